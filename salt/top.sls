# dcluster's state tree: put this folder in the master's file_roots.
# Workers dcluster launches carry the grain dcluster:scheduler (set by their
# user-data); they get the worker formula of that scheduler.
base:
  'dcluster:scheduler:*':
    - match: grain
    - dcluster.worker
