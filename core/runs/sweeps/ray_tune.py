"""A sweep's trials on Ray Tune: starting Ray (local, or a cluster), the Tuner and
the searcher that hands it the planned trials with their real option values, the
callback that feeds trial events to the sweep's driver, and the trial itself.

The only module that imports Ray, and only inside its functions: Ray reads its
settings from the environment when it is imported, so they are set first
(`ray_environment`). The driver (core.runs.sweeps.driver) imports this module once
a sweep really runs; each Ray worker imports it to run `run_trial`.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from core.runs.liveness import CANCEL_FILE, cancel_watch
from core.runs.messages import one_line
from core.runs.store import PROJECT_ROOT
from core.runs.sweeps.plan import SweepError, Trial
from core.runs.sweeps.record import trial_outcome


def ray_environment(address: str | None) -> None:
    """Before ray is imported (it reads these at import): our own SIGINT handling,
    short output, and for a cluster a short connect and its token if we have one."""
    os.environ.setdefault("TUNE_DISABLE_SIGINT_HANDLER", "1")
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    if address:
        os.environ.setdefault("RAY_NUM_REDIS_GET_RETRIES", "5")  # ~1 s each, not 20
        has_token = (os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")
                     or (Path.home() / ".ray" / "auth_token").is_file())
        if has_token and "RAY_AUTH_MODE" not in os.environ:  # a cluster with token authentication asks for it
            os.environ["RAY_AUTH_MODE"] = "token"
            os.environ[ASSUMED_TOKEN] = "1"


ASSUMED_TOKEN = "DIGIT_LAB_RAY_TOKEN_ASSUMED"  # we turned token mode on because a token was found
PREFLIGHT_S = 30.0


def native_stderr_to(path: Path) -> None:
    """From now on fd 2 goes to `path`: Ray's C++ core worker logs there from its own
    threads at any moment of the session (a cancelled actor, a lost node), not only
    while connecting. Python's sys.stderr keeps the terminal for our one-line errors."""
    sys.stderr.flush()
    terminal = os.dup(2)
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 2)
    sys.stderr = open(terminal, "w", buffering=1, errors="backslashreplace")


def ray_init(address: str | None, log_path: Path) -> None:
    import ray

    quiet = dict(include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    env_vars = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    if os.environ.get("MNIST_DATA_DIR"):
        env_vars["MNIST_DATA_DIR"] = os.environ["MNIST_DATA_DIR"]
        if not address:  # local workers start in Ray's own folder: a relative path must not stay relative
            env_vars["MNIST_DATA_DIR"] = str(Path(env_vars["MNIST_DATA_DIR"]).expanduser().resolve())
    native_stderr_to(log_path)
    try:
        if address:
            # Workers elsewhere get this project's engine shipped to them.
            runtime_env = {"py_modules": [str(PROJECT_ROOT / "core")], "env_vars": env_vars}
            ray.init(address=address, runtime_env=runtime_env, **quiet)
        else:
            # The local workers are this machine's processes: they inherit PYTHONPATH.
            path = os.environ.get("PYTHONPATH")
            os.environ["PYTHONPATH"] = str(PROJECT_ROOT) + (os.pathsep + path if path else "")
            ray.init(address="local", num_cpus=os.cpu_count() or 1, runtime_env={"env_vars": env_vars}, **quiet)
    except RuntimeError as e:
        if "version mismatch" not in str(e).lower():
            raise
        raise SweepError("--address", f"Ray version mismatch with the cluster at {address}: {one_line(e)}") from None
    except ConnectionError as e:
        reason = one_line(e) if str(e).strip() else "no answer"
        if log_path.is_file() and "InvalidAuthToken" in log_path.read_text(errors="replace")[-20_000:]:
            reason = ("the cluster asks for its authentication token: set RAY_AUTH_TOKEN (or RAY_AUTH_TOKEN_PATH) "
                      "and RAY_AUTH_MODE=token")
        raise SweepError("--address", f"cannot connect to Ray at {address}: {reason}") from None


def preflight(address: str) -> None:
    """One tiny actor on the cluster, as each trial is, with a deadline: a cluster that
    accepts the connection but starts no actor for us (say, a token sent to one without
    authentication) fails here in seconds, with the reason, not as every trial "never ran"."""
    import ray

    @ray.remote(num_cpus=0)
    class Ping:
        def version(self) -> str:
            return ray.__version__

    try:
        ping = Ping.remote()
        ray.get(ping.version.remote(), timeout=PREFLIGHT_S)
        ray.kill(ping)
    except Exception as e:  # GetTimeoutError, a worker that could not start: one line either way
        hint = (" A token was found (~/.ray/auth_token) and sent: if the cluster runs without authentication, "
                "set RAY_AUTH_MODE=disabled." if os.environ.get(ASSUMED_TOKEN) else "")
        raise SweepError("--address", f"the cluster at {address} accepted the connection but started no worker "
                                      f"for this sweep ({one_line(e)}).{hint}") from None


def run_on_ray(driver, trials: list[Trial], runs_dir: Path, address: str | None, max_concurrent: int | None) -> None:
    """Run every trial on Ray Tune, one CPU each, feeding their events to `driver`
    (a core.runs.sweeps.driver.SweepDriver); returns when all have ended."""
    ray_environment(address)
    import ray
    from ray import tune

    ray_init(address, driver.sweep_dir / "ray.log")
    try:
        driver.install_signal_handlers()  # ray.init put its own SIGTERM handler in place
        if address:
            preflight(address)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        driver.cluster(cpus, min(max_concurrent or cpus, len(trials)))
        specs = [{"index": t.index, "run_id": t.run_id, "config": t.config.to_dict(),
                  "runs_dir": str(Path(runs_dir).absolute()), "cancel_path": str(driver.sweep_dir / CANCEL_FILE)}
                 for t in trials]
        trainable = tune.with_resources(tune.with_parameters(run_trial, specs=specs), {"cpu": 1})
        shared, own = tune_records(trials)
        tuner = tune.Tuner(
            trainable,
            param_space=shared,
            # Reused actors: a trial's process (and its torch import) serves the next trial.
            tune_config=tune.TuneConfig(search_alg=planned_trials(own), num_samples=len(trials),
                                        max_concurrent_trials=max_concurrent, reuse_actors=True),
            run_config=tune.RunConfig(
                name="tune", storage_path=str(driver.sweep_dir / "ray"), verbose=0,
                callbacks=[tune_callback(driver)],
                # A trial whose worker died (its node lost, killed) is started again on a node
                # that is left, into the same run folder; a run that fails on its own does not
                # raise (run_trial reports it), so it is never retried.
                failure_config=tune.FailureConfig(max_failures=TRIAL_RETRIES, fail_fast=False),
            ),
        )
        tuner.fit()
    finally:
        ray.shutdown()


TRIAL_RETRIES = 3
LOST_NODE = "restarted after its node was lost"

# A trial's own bookkeeping, not hyperparameters: these stay out of Tune's records.
NOT_HYPERPARAMETERS = ("name", "sweep_id", "data_dir")


def hyperparameters(trial: Trial) -> dict:
    return {k: v for k, v in trial.config.to_dict().items() if k not in NOT_HYPERPARAMETERS}


def tune_records(trials: list[Trial]) -> tuple[dict, list[dict]]:
    """What Tune is told of the trials: the options they all share (the param_space),
    and per trial its index (how it finds its run) and the options that vary."""
    values = [hyperparameters(t) for t in trials]
    shared = {k: v for k, v in values[0].items() if all(other[k] == v for other in values)}
    own = [{"index": t.index, **{k: v for k, v in vals.items() if k not in shared}} for t, vals in zip(trials, values)]
    return shared, own


def planned_trials(suggestions: list[dict]):
    """A Tune searcher that hands out the planned trials in order. Tune merges each
    suggestion into the param_space, so a trial's config (params.json, result.json, the
    logger callbacks) holds all its real values; and the suggested ones are its
    "evaluated params", the hyperparameters of Tune's own TensorBoard HParams view."""
    from ray.tune.search import Searcher

    class PlannedTrials(Searcher):
        def __init__(self):
            super().__init__()
            self.given = 0

        def suggest(self, trial_id):
            if self.given == len(suggestions):
                return Searcher.FINISHED
            self.given += 1
            return dict(suggestions[self.given - 1])

        def on_trial_complete(self, trial_id, result=None, error=False):
            pass  # nothing to learn: the plan is fixed

        # Tune saves its searcher's state with the experiment's.
        def save(self, checkpoint_path):
            Path(checkpoint_path).write_text(str(self.given))

        def restore(self, checkpoint_path):
            self.given = int(Path(checkpoint_path).read_text())

    return PlannedTrials()


def tune_callback(driver):
    """A Tune callback feeding trial events into the sweep record."""
    from ray import tune

    class RecordCallback(tune.Callback):
        def on_trial_start(self, iteration, trials, trial, **info):
            driver.started(trial.config["index"])

        def on_trial_result(self, iteration, trials, trial, result, **info):
            index = trial.config["index"]
            if result.get("node") and result.get("attempt"):
                driver.located(index, result["node"], result["attempt"])
            if result.get("sweep_final"):
                driver.finished(index, result.get("state") or "failed", result.get("val_acc"),
                                result.get("test_acc"), result.get("error"))
            elif "epoch" in result:
                driver.epoch(index, result)

        def on_trial_recover(self, iteration, trials, trial, **info):
            # Its worker died (a lost node): Tune starts it again, run_trial sets the first attempt aside.
            driver.restarting(trial.config["index"], last_error_line(trial))

        def on_trial_error(self, iteration, trials, trial, **info):
            # The trial's process died for the last time (the trainable catches its own errors).
            driver.finished(trial.config["index"], "failed", error=last_error_line(trial))

    return RecordCallback()


def last_error_line(trial) -> str:
    try:
        lines = [ln for ln in Path(trial.error_file).read_text().splitlines() if ln.strip()]
        return lines[-1].strip()[:300]
    except (OSError, TypeError, IndexError):
        return "the trial's Ray worker failed"


def run_trial(config: dict, specs: list[dict]) -> None:
    """One trial, in a Ray worker: an ordinary run of the options Tune gives it (its
    bookkeeping, folder and name from its spec), reporting each epoch's metrics to Tune
    and, last, the run's outcome (best val acc, the kept model's test acc)."""
    import ray
    import torch
    from ray import tune

    from core.engine.config import TrainConfig
    from core.runs.run_attempts import StillRunning, set_aside_earlier_attempt
    from core.runs.run_process import run_training

    spec = specs[config["index"]]
    torch.set_num_threads(1)
    run_dir = Path(spec["runs_dir"]) / spec["run_id"]
    node = f"{ray.util.get_node_ip_address()} {ray.get_runtime_context().get_node_id()}"
    try:
        # A second attempt (Tune restarted the trial after its worker died) sets the first aside.
        located = {"index": spec["index"], "node": node, "attempt": set_aside_earlier_attempt(run_dir, LOST_NODE)}
    except StillRunning as e:
        tune.report({"sweep_final": True, "index": spec["index"], "state": "failed", "error": str(e)})
        return
    final = {"sweep_final": True, **located}
    cancel = Path(spec["cancel_path"])
    if cancel.exists():  # the sweep was cancelled before this trial started
        tune.report({**final, "state": "cancelled"})
        return
    should_stop = cancel_watch(cancel)

    def on_epoch(row: dict) -> None:
        tune.report({**row, **located, "sweep_final": False})

    error = None
    try:
        cfg = TrainConfig.from_dict({**spec["config"], **config})  # from_dict drops the index
        run_training(cfg, Path(spec["runs_dir"]), run_id=spec["run_id"], on_epoch=on_epoch, should_stop=should_stop)
    except Exception as e:  # the run recorded it as failed; the sweep goes on
        error = one_line(e, named=True)
    outcome = trial_outcome(run_dir, over=True)
    if outcome is None:  # run_training failed before its run recorded anything
        outcome = {"state": "failed", "error": "its run did not start"}
    tune.report({**final, **outcome, "error": error or outcome["error"]})


# ---------------------------------------------------------------- one run on a cluster

RUN_RETRIES = 2  # a run whose worker dies (its node lost) starts again on a node left


def train_on_cluster(cfg_dict: dict, runs_dir: Path, run_id: str, address: str, snapshot_budget: int) -> None:
    """`python -m core.train --address`: the run as one Ray task on the cluster (a GPU
    asked for when it trains on cuda), writing into the shared store as a local run does
    (status, heartbeat, metrics, epochs, the cancel file it watches). This process waits
    for it; SIGTERM/SIGINT here asks the run to stop through its cancel file."""
    import signal

    from core.runs.liveness import request_cancel

    run_dir = Path(runs_dir) / run_id
    ray_environment(address)
    import ray

    ray_init(address, run_dir / "ray.log")
    try:
        preflight(address)
        for s in (signal.SIGTERM, signal.SIGINT):  # ray.init put its own handlers in place
            signal.signal(s, lambda signum, frame: request_cancel(run_dir))
        gpu = cfg_dict.get("device") == "cuda"
        task = ray.remote(num_cpus=1, num_gpus=1 if gpu else 0, max_retries=RUN_RETRIES, retry_exceptions=False)(
            cluster_run)
        ref = task.remote(cfg_dict, str(Path(runs_dir).absolute()), run_id, snapshot_budget)
        while True:  # in slices, so a signal is handled between them
            ready, _ = ray.wait([ref], timeout=1.0)
            if ready:
                ray.get(ref)
                return
    finally:
        ray.shutdown()


def cluster_run(cfg_dict: dict, runs_dir: str, run_id: str, snapshot_budget: int) -> None:
    """The run, in a Ray worker on whichever node has the resources."""
    import ray

    from core.engine.config import TrainConfig
    from core.runs.run_attempts import set_aside_earlier_attempt
    from core.runs.run_process import run_training
    from core.runs.store import write_status

    run_dir = Path(runs_dir) / run_id
    if (run_dir / "status.json").exists() and (run_dir / "metrics.csv").exists():
        set_aside_earlier_attempt(run_dir, LOST_NODE)  # a retry: its first node was lost mid-run
    write_status(run_dir, trains_on=f"{ray.util.get_node_ip_address()} {ray.get_runtime_context().get_node_id()}")
    run_training(TrainConfig.from_dict(cfg_dict), Path(runs_dir), run_id=run_id, snapshot_budget=snapshot_budget)
