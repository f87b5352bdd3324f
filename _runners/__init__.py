"""Salt loader folder: each module here is loaded by Salt; this file only makes the folder a package for pip."""
