"""A real one-node SLURM cluster for the tests: munged, slurmctld and slurmd (Debian's
slurm-wlm and munge), started in the foreground as children of the test, with their own key,
socket, ports, state and spool in a temporary directory, so nothing of the host's own SLURM or
munge (if any) is used or changed. Needs root (slurmd runs the jobs' processes).

    with OneNodeSlurm(tmpdir) as sl:
        job = sl.sbatch([...script...], env=..., cwd=...)
        sl.wait_state(job, "COMPLETED")

unavailable() says why the scheduler cannot run here (None when it can)."""
import os
import shutil
import socket
import subprocess
import time

DAEMONS = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "scontrol", "scancel", "sinfo", "srun")


def find(name):
    return shutil.which(name) or next((p for p in ("/usr/sbin/" + name, "/usr/bin/" + name) if os.path.exists(p)), None)


def unavailable():
    if os.geteuid() != 0:
        return "not root: slurmd must run as root to start the jobs' processes"
    missing = [d for d in DAEMONS if not find(d)]
    if missing:
        return "missing %s (apt-get install slurm-wlm munge)" % ", ".join(missing)
    return None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class SlurmError(Exception):
    pass


class OneNodeSlurm:
    def __init__(self, root, cpus=4, cred_expire=10, kill_wait=10):
        self.root = root
        self.cpus = cpus
        self.cred_expire = cred_expire  # a requeued job waits cred_expire + 1 s before it starts again
        self.kill_wait = kill_wait      # seconds between scancel's SIGTERM and its SIGKILL
        self.procs = []
        self.host = socket.gethostname().split(".")[0]
        self.conf = os.path.join(root, "slurm.conf")
        self.env = dict(os.environ, SLURM_CONF=self.conf)

    def path(self, *p):
        return os.path.join(self.root, *p)

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    def write_conf(self):
        sock = self.path("munge", "munge.sock")
        lines = [
            "ClusterName=ameirtest",
            "SlurmctldHost=%s(127.0.0.1)" % self.host,
            "SlurmctldPort=%d" % free_port(),
            "SlurmdPort=%d" % free_port(),
            "AuthType=auth/munge",
            "CredType=cred/munge",
            "AuthInfo=socket=%s,cred_expire=%d" % (sock, self.cred_expire),
            "SlurmUser=root",
            "SlurmdUser=root",
            "StateSaveLocation=%s" % self.path("state"),
            "SlurmdSpoolDir=%s" % self.path("spool"),
            "SlurmctldPidFile=%s" % self.path("slurmctld.pid"),
            "SlurmdPidFile=%s" % self.path("slurmd.pid"),
            "SlurmctldLogFile=%s" % self.path("slurmctld.log"),
            "SlurmdLogFile=%s" % self.path("slurmd.log"),
            # no cgroups here: track the job's processes by their parentage, bind nothing
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_CPU",
            "SchedulerType=sched/builtin",
            "MpiDefault=none",
            "ReturnToService=2",
            "JobCompType=jobcomp/none",
            "AccountingStorageType=accounting_storage/none",
            # trust the CPU count below over the hardware's: the tests oversubscribe 2 cores
            "SlurmdParameters=config_overrides",
            "KillWait=%d" % self.kill_wait,
            "MinJobAge=3600",
            "NodeName=%s NodeAddr=127.0.0.1 CPUs=%d RealMemory=1000 State=UNKNOWN" % (self.host, self.cpus),
            "PartitionName=debug Nodes=%s Default=YES MaxTime=INFINITE State=UP" % self.host,
        ]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def spawn(self, args, log):
        out = open(self.path(log), "ab")
        p = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=self.env)
        out.close()
        self.procs.append(p)
        return p

    def start(self):
        for d in ("munge", "state", "spool"):
            os.makedirs(self.path(d), exist_ok=True)
        os.chmod(self.path("munge"), 0o755)  # munged wants its socket's directory searchable
        key = self.path("munge", "munge.key")
        subprocess.run([find("mungekey"), "-c", "-k", key], check=True)
        self.write_conf()
        sock = self.path("munge", "munge.sock")
        self.spawn([find("munged"), "-F", "-f", "-S", sock, "--key-file=" + key, "--log-file=" + self.path("munge", "munged.log"),
                    "--pid-file=" + self.path("munge", "munged.pid"), "--seed-file=" + self.path("munge", "munged.seed")],
                   "munged.out")
        self.wait_for(lambda: os.path.exists(sock), 20, "munged socket")
        self.spawn([find("slurmctld"), "-D", "-f", self.conf], "slurmctld.out")
        self.wait_for(lambda: self.run([find("scontrol"), "ping"]).returncode == 0, 60, "slurmctld to answer")
        self.spawn([find("slurmd"), "-D", "-f", self.conf, "-N", self.host], "slurmd.out")
        self.wait_for(lambda: "idle" in self.run([find("sinfo"), "-h", "-o", "%T"]).stdout, 60, "the node to be idle")

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
        for p in reversed(self.procs):
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = []

    def logs(self):
        text = []
        for name in ("slurmctld.log", "slurmd.log"):
            try:
                with open(self.path(name)) as f:
                    text.append("--- %s ---\n%s" % (name, f.read()[-3000:]))
            except OSError:
                pass
        return "\n".join(text)

    def wait_for(self, cond, timeout, what):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for p in self.procs:
                if p.poll() is not None:
                    raise SlurmError("%s exited with %d while waiting for %s\n%s" % (p.args[0], p.returncode, what, self.logs()))
            if cond():
                return
            time.sleep(0.2)
        raise SlurmError("timeout (%d s) waiting for %s\n%s" % (timeout, what, self.logs()))

    def run(self, args, **kw):
        env = dict(self.env)
        env.update(kw.pop("env", {}) or {})
        return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, timeout=60, **kw)

    def sbatch(self, args, env=None, cwd=None):
        p = self.run([find("sbatch"), "--parsable"] + args, env=env, cwd=cwd)
        if p.returncode != 0:
            raise SlurmError("sbatch %r failed: %s%s" % (args, p.stdout, p.stderr))
        return p.stdout.strip().split(";")[0]

    def job(self, job):
        """scontrol's fields of a job (JobState, ExitCode, Restarts, ...) as a dict."""
        p = self.run([find("scontrol"), "show", "job", "-o", job])
        fields = {}
        for tok in p.stdout.split():
            if "=" in tok:
                k, v = tok.split("=", 1)
                fields.setdefault(k, v)
        return fields

    def wait_state(self, job, states, timeout=300, min_restarts=0):
        """Wait until the job is in one of states (with at least min_restarts restarts)."""
        states = (states,) if isinstance(states, str) else tuple(states)
        last = {}

        def done():
            last.update(self.job(job))
            return last.get("JobState") in states and int(last.get("Restarts", "0")) >= min_restarts
        try:
            self.wait_for(done, timeout, "job %s to be %s" % (job, "/".join(states)))
        except SlurmError as e:
            raise SlurmError("%s; last seen: %s" % (e, " ".join("%s=%s" % kv for kv in last.items() if kv[0] in (
                "JobState", "Reason", "ExitCode", "Restarts"))))
        return last
