"""Airflow's distributed deployment on one machine: the CeleryExecutor with two workers that
share no disk, PostgreSQL, Redis and an S3-compatible object store (``opendata demo --celery``,
the distributed end-to-end test and the Celery benches).

- :mod:`.launcher`: starts and stops the whole deployment (the Python entry point is
  :func:`opendata.cluster.launcher.start`); :mod:`.config`: a run's names, settings and folders;
  :mod:`.command`: ``opendata demo --celery``;
- :mod:`.services`: the databases, the broker's key prefix and the object store it uses;
- :mod:`.isolation`: each worker in its own mount namespace, its private folder on a tmpfs;
- :mod:`.hostname`: the task hostname Airflow records for a worker (``[core] hostname_callable``).

Nothing here runs in a production deployment (docker-compose.yaml runs the same topology on
separate containers); it is the proof that the pipeline works on one.
"""
