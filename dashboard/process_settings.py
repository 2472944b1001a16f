"""Settings of the dashboard's whole process, made once, at its first import, before any
session's script runs a model: torch's thread count and the interpreter's switch interval
belong to the process, so no page, prediction or preview changes them afterwards."""

import sys

import torch

# One intra-op thread: the server's parallelism is its sessions. A single digit is faster
# on one (2.7 ms against 3.8 for the default model here), and with two, each session's
# prediction waits for the other's threads at every layer when the cores are busy
# (50-110 ms measured in the app). Scoring a set on a page takes about twice as long.
SERVER_THREADS = 1

torch.set_num_threads(SERVER_THREADS)
# Every session's script runs in a thread of this process. With several people drawing,
# the event loop that carries the answers and the pages waits for the GIL behind those
# threads, up to one switch interval per step (5 ms by default, many steps a request).
sys.setswitchinterval(0.001)
