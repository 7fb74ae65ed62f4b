"""The event loop: one compiled function that runs a whole simulation.

How it works
------------
The queue is FCFS on ``c(t)`` identical servers. Requests are processed in
time order from four sources, earliest first (ties in this order):

1. the end of the current interval (statistics are closed, the server count
   changes);
2. the start of service of the request at the head of the waiting line;
3. a scheduled event: a retry arriving, or a client's timeout (a fixed timeout's
   check before a heap event at the same time);
4. the next first try.

Busy servers are a min-heap of the times they next become free (the
Kiefer-Wolfowitz workload vector). The head of the line starts at
``max(its arrival, earliest free time)``; that is exact for FCFS. Starts are
processed as events in time order rather than committed at arrival, so a
change of the server count at an interval boundary applies to every request
that has not started by then.

Idle servers are only counted: once a free time is past, its value never
matters again (an arrival that finds a server free starts at once, whichever
it is). When many servers are done by the time an arrival looks (a large pool
at low load, the usual case of a planned join path), they leave the heap in
one pass over it instead of one heap operation each, and the busy ones' times
stay a plain array, appended to, until a request has to wait.

Waiting requests live in a ring buffer indexed by their sequence number, so
the waiting line is a contiguous range of sequence numbers. A request with a
client timeout keeps its slot until the timeout has been checked; the buffer
doubles when the next slot is still in use. Memory is therefore proportional
to the requests waiting or within one timeout of their arrival, plus the
retries scheduled, never to the number of requests simulated.

Scheduled events are a min-heap of (time, payload). A fixed timeout (the usual
client) comes due in arrival order, so its checks need no heap: they are the
ring buffer itself, read in sequence order from the oldest unchecked request
(a FIFO, O(1) a request). A timeout drawn from a distribution goes through the
heap. A request that starts at once needs a check only when its service
outlasts its timeout.

Randomness comes from four numpy Generators (first tries, service times,
timeouts, retry jitter), so scenarios that share a seed share their first
tries (common random numbers).
"""

from __future__ import annotations

import math

import numpy as np

from capplan.simulation._jit import njit

INF = np.inf

# Kinds of scheduled events (the low two bits of the payload).
_RETRY = 0  # a retry arrives; payload: its attempt number (1 for the first retry)
_TIMEOUT = 1  # a queued request's client times out unless answered; payload: sequence number
_FAIL = 2  # a client that started at once times out (response too slow); payload: attempt

# Status of a ring-buffer slot.
_FREE = 0
_WAITING = 1  # in the line, client still waiting
_ABANDONED = 2  # "drop" mode: client gave up, request left the line (slot freed at the head)
_LATE = 3  # "serve" mode: client gave up, request still in the line
_OK = 4  # started and answered in time; its timeout check is still scheduled
_DOOMED = 5  # "serve" mode: started, but the answer comes after the client's timeout

# Columns of the integer output table.
I_FIRST, I_RETRY, I_REFUSED, I_ADMITTED, I_IMMEDIATE = 0, 1, 2, 3, 4
I_STARTED, I_SERVED, I_WASTED, I_ABANDONED, I_FAILED, I_QUEUE_END = 5, 6, 7, 8, 9, 10
# Workers serving at the end of the interval (removed ones finishing included), and the
# removed ones among them.
I_BUSY_END, I_DRAINING_END = 11, 12
N_INT_COLUMNS = 13
# Columns of the float output table.
F_QUEUE_MEAN, F_WAIT_SUM, F_WAIT_MAX, F_P50, F_P90, F_P99, F_DROP_WAIT_SUM = 0, 1, 2, 3, 4, 5, 6
# Time averages over the interval of the workers serving and of the removed ones finishing.
F_BUSY_MEAN, F_DRAINING_MEAN = 7, 8
N_FLOAT_COLUMNS = 9

# Wait histogram: bin 0 holds waits of exactly zero; bins 1..N_BINS-1 are
# log-spaced from 10**HIST_LOG10_LO s at BINS_PER_DECADE per decade (the last
# one also takes anything longer).
HIST_LOG10_LO = -6.0
BINS_PER_DECADE = 32
N_DECADES = 12
N_BINS = 1 + BINS_PER_DECADE * N_DECADES

# Arrival modes.
ARR_STEP, ARR_LINEAR, ARR_COUNTS = 0, 1, 2

# Distribution kinds (see capplan.simulation.service).
D_NONE, D_EXP, D_DET, D_LOGNORMAL, D_GAMMA, D_EMPIRICAL = -1, 0, 1, 2, 3, 4

# Back-off kinds and jitter kinds (see capplan.simulation.policies).
B_CONSTANT, B_EXPONENTIAL = 0, 1
J_NONE, J_FULL, J_EQUAL = 0, 1, 2

_BUDGET_SLICES = 10
# The attempt number of a first try that never retries (an attack request).
ONE_SHOT = 1 << 40
# Why a run stopped early (see run).
STOP_ATTEMPTS, STOP_MEMORY = 1, 2
# Bytes a slot of the waiting line's ring buffer takes, an event of the heap, and a
# worker (its free time and its slot in the workers' stack).
SLOT_BYTES, EVENT_BYTES, WORKER_BYTES = 33, 16, 16
_AT_ONCE_MIN = 16  # idle workers from which first tries go to _first_tries_at_once


@njit
def draw(rng, kind, p1, p2, table):
    """One draw of a distribution coded as (kind, p1, p2, table)."""
    if kind == D_GAMMA:
        return p2 * rng.standard_gamma(p1)
    if kind == D_EMPIRICAL:
        return table[rng.integers(0, table.size)]
    return draw_plain(rng, kind, p1, p2)


@njit
def draw_plain(rng, kind, p1, p2):
    """:func:`draw` for the exponential, the deterministic and the log-normal.

    The simulator's loop calls this one for them: nothing in it can raise, so numba
    counts no references to ``rng``; in :func:`draw` it counts them on every call
    (four atomic operations, nearly half the time of a request that starts at once).
    """
    if kind == D_EXP:
        return p1 * rng.standard_exponential()
    if kind == D_LOGNORMAL:
        return math.exp(p1 + p2 * rng.standard_normal())
    return p1


@njit
def wait_bin(w):
    if w <= 0.0:
        return 0
    k = int((math.log10(w) - HIST_LOG10_LO) * BINS_PER_DECADE) + 1  # >= 0: a floor
    if k < 1:
        return 1
    if k > N_BINS - 1:
        return N_BINS - 1
    return k


@njit
def hist_quantile(hist, total, q):
    """Quantile ``q`` of a wait histogram (NaN when empty), log-interpolated in its bin."""
    if total == 0:
        return np.nan
    target = q * total
    cum = float(hist[0])
    if target <= cum:
        return 0.0
    for k in range(1, N_BINS):
        h = hist[k]
        if h > 0 and cum + h >= target:
            frac = (target - cum) / h
            return 10.0 ** (HIST_LOG10_LO + (k - 1 + frac) / BINS_PER_DECADE)
        cum += h
    return 10.0 ** (HIST_LOG10_LO + N_DECADES)


# --- min-heap of server free times -----------------------------------------------


@njit
def _srv_sift_down(h, n, i):
    x = h[i]
    while True:
        child = 2 * i + 1
        if child >= n:
            break
        if child + 1 < n:
            # The smaller child without a branch: which one it is, is a coin toss that
            # the processor would mispredict half the time (half the heap's cost).
            child += h[child + 1] < h[child]
        if h[child] < x:
            h[i] = h[child]
            i = child
        else:
            break
    h[i] = x


@njit
def _srv_push(h, n, x):
    i = n
    while i > 0:
        parent = (i - 1) // 2
        if h[parent] > x:
            h[i] = h[parent]
            i = parent
        else:
            break
    h[i] = x
    return n + 1


@njit
def _srv_heapify(h, n):
    for i in range(n // 2 - 1, -1, -1):
        _srv_sift_down(h, n, i)


@njit
def _srv_add(h, n, x, heap):
    """Add a busy worker free at ``x``: pushed on the heap, or appended when the array is
    not kept as a heap."""
    if heap:
        return _srv_push(h, n, x)
    h[n] = x
    return n + 1


@njit
def _srv_keep_after(h, n, t):
    """Keep the free times after ``t`` at the front of ``h`` (in no order); returns how many.
    Without a branch: whether a worker is done is the processor's coin toss."""
    m = 0
    for j in range(n):
        x = h[j]
        h[m] = x
        m += x > t
    return m


@njit
def _srv_count_done(h, n, t, limit, stack):
    """How many free times in the heap ``h`` are at or before ``t`` (a subtree at its top),
    counted up to ``limit + 1``."""
    if n == 0 or h[0] > t:
        return 0
    k = 0
    stack[0] = 0
    sp = 1
    while sp > 0 and k <= limit:
        sp -= 1
        i = stack[sp]
        k += 1
        child = 2 * i + 1
        if child < n and h[child] <= t:
            stack[sp] = child
            sp += 1
        if child + 1 < n and h[child + 1] <= t:
            stack[sp] = child + 1
            sp += 1
    return k


@njit
def _find_free(srv, srv_n, srv_heap, top_free, bulk, t, stack):
    """No worker known idle: those done by ``t``. Returns ``(idle, srv_n, srv_heap,
    top_free)``; a worker is free if ``idle`` or ``top_free`` is positive.

    In the heap, the workers done are a subtree at its top: counted, they leave it in one
    pass when more than ``bulk`` (``srv`` is then a plain array), else ``top_free`` says
    how many of the heap's next tops are free. A plain array is passed over each time,
    and made a heap again when the workers done are few."""
    idle = 0
    if srv_n > 0:
        if not srv_heap:
            m = _srv_keep_after(srv, srv_n, t)
            idle = srv_n - m
            srv_n = m
            if idle <= bulk:
                _srv_heapify(srv, srv_n)
                srv_heap = True
        elif srv[0] <= t:
            top_free = _srv_count_done(srv, srv_n, t, bulk, stack)
            if top_free > bulk:
                m = _srv_keep_after(srv, srv_n, t)
                idle = srv_n - m
                srv_n = m
                srv_heap = False
                top_free = 0
    return idle, srv_n, srv_heap, top_free


@njit
def _bulk_limit(c, bulk_release):
    """Most workers done at once that the heap hands out one by one (its top each time);
    beyond it they leave the heap in one pass. Below 64 workers: never (the heap is cheap)."""
    if c < 64 or not bulk_release:
        return c
    return c // (4 * (int(math.log2(c)) + 1))


# --- min-heap of scheduled events (time, payload) --------------------------------


@njit
def _ev_push(et, ep, n, t, p):
    i = n
    while i > 0:
        parent = (i - 1) // 2
        if et[parent] > t:
            et[i] = et[parent]
            ep[i] = ep[parent]
            i = parent
        else:
            break
    et[i] = t
    ep[i] = p
    return n + 1


@njit
def _ev_pop(et, ep, n):
    """Remove the earliest event; returns the new size. (One exit and the smaller child
    picked without a branch: so shaped, numba counts no references to the arrays.)"""
    n -= 1
    t = et[n]
    p = ep[n]
    i = 0
    while True:
        child = 2 * i + 1
        if child >= n:
            break
        if child + 1 < n:
            child += et[child + 1] < et[child]
        if et[child] < t:
            et[i] = et[child]
            ep[i] = ep[child]
            i = child
        else:
            break
    et[i] = t
    ep[i] = p
    return n


# --- first tries -----------------------------------------------------------------


@njit
def _advance_budget(t, slice_w, cur_slice, dep, wdr, dep_sum, wdr_sum):
    """Move the retry budget's sliding window to time ``t``: the slices that fell out of
    the window give back their deposits and withdrawals. Returns the new slice and sums."""
    s_new = int(t / slice_w)
    # A range empty unless the window moved (time never goes back); no modulo, which
    # could raise, so that numba counts no references to the arrays.
    k = cur_slice + 1
    k -= (k // _BUDGET_SLICES) * _BUDGET_SLICES
    for _ in range(cur_slice + 1, min(s_new, cur_slice + _BUDGET_SLICES) + 1):
        dep_sum -= dep[k]
        wdr_sum -= wdr[k]
        dep[k] = 0.0
        wdr[k] = 0.0
        k += 1
        if k == _BUDGET_SLICES:
            k = 0
    return max(cur_slice, s_new), dep_sum, wdr_sum


@njit
def _next_first_try(rng, mode, rates, counts, interval, n_int, duration, st):
    """Next first-try time after the state ``st`` = [interval, time, left, fraction]."""
    i = int(st[0])
    while i < n_int:
        start = i * interval
        end = min(start + interval, duration)
        if mode == ARR_COUNTS:
            left = st[2]
            if left > 0:
                # Sequential order statistics of `left` uniforms on (fraction, 1].
                frac = st[3] + (1.0 - st[3]) * (1.0 - rng.random() ** (1.0 / left))
                st[2] = left - 1
                st[3] = frac
                return start + frac * (end - start)
        else:
            r0 = rates[i]
            bound = r0
            slope = 0.0
            if mode == ARR_LINEAR:
                r1 = rates[i + 1]
                bound = max(r0, r1)
                slope = (r1 - r0) / interval
            if bound > 0.0:
                t = st[1]
                while True:
                    t += rng.standard_exponential() / bound
                    if t >= end:
                        break
                    if mode == ARR_LINEAR:
                        # Thinning: accept with probability rate(t) / bound.
                        if rng.random() * bound >= r0 + slope * (t - start):
                            continue
                    st[1] = t
                    return t
        # Move on to the next interval; Poisson streams restart exactly there.
        i += 1
        st[0] = i
        st[1] = i * interval
        st[3] = 0.0
        if mode == ARR_COUNTS and i < n_int:
            st[2] = counts[i]
    return INF


# --- the simulation ----------------------------------------------------------------


@njit
def _first_tries_at_once(
    t_arr,
    t_limit,
    rng_arrival,
    arrival_mode,
    rates,
    counts,
    interval,
    n_int,
    duration,
    arr_state,
    rng_service,
    svc_plain,
    svc_kind,
    svc_p1,
    svc_p2,
    svc_table,
    serve_timeout,
    rng_patience,
    pat_plain,
    pat_kind,
    pat_p1,
    pat_p2,
    pat_table,
    srv,
    srv_stack,
    srv_n,
    srv_heap,
    idle,
    top_free,
    bulk,
    bi,
    t_bound,
    busy_part,
    done,
    done_part,
):
    """:func:`run`'s loop for first tries that find the line empty and a worker free:
    the usual case of a planned join path, in a loop of its own (fewer tests a request,
    and its state in registers). The same operations as there, in the same order.

    Goes on while the next first try is due before ``t_limit`` (anything else due first
    is :func:`run`'s), until one finds no worker free (left to :func:`run`, not drawn) or
    one outlasts its client's timeout (``serve_timeout``: "serve" mode, whose _FAIL event
    at ``t_fail`` :func:`run` schedules). Returns the next first try, the number started,
    the time of the last one, ``t_fail`` (INF if none) and the updated state.
    """
    n = 0
    t = t_arr
    t_fail = INF
    # Piecewise-constant rates or replayed counts: the next first try of this interval
    # inline, as _next_first_try draws it (which takes over at the interval's end).
    step_rate = 0.0
    i_arr = int(arr_state[0])
    arr_start = i_arr * interval
    arr_end = min(arr_start + interval, duration)
    if arrival_mode == ARR_STEP and i_arr < n_int:
        step_rate = rates[i_arr]
    replay = arrival_mode == ARR_COUNTS and i_arr < n_int
    while t_arr < t_limit:
        if idle == 0 and top_free == 0:
            idle, srv_n, srv_heap, top_free = _find_free(
                srv, srv_n, srv_heap, top_free, bulk, t_arr, srv_stack
            )
            if idle == 0 and top_free == 0:
                break
        t = t_arr
        n += 1
        if step_rate > 0.0:
            t_arr = arr_state[1] + rng_arrival.standard_exponential() / step_rate
            if t_arr < arr_end:
                arr_state[1] = t_arr
            else:  # on to the next interval
                step_rate = 0.0
                arr_state[0] = i_arr + 1
                arr_state[1] = (i_arr + 1) * interval
                arr_state[3] = 0.0
                t_arr = _next_first_try(
                    rng_arrival, arrival_mode, rates, counts, interval, n_int, duration, arr_state
                )
        elif replay and arr_state[2] > 0:
            left = arr_state[2]
            frac = arr_state[3] + (1.0 - arr_state[3]) * (
                1.0 - rng_arrival.random() ** (1.0 / left)
            )
            arr_state[2] = left - 1
            arr_state[3] = frac
            t_arr = arr_start + frac * (arr_end - arr_start)
        else:
            replay = False  # _next_first_try may move on to the next interval
            t_arr = _next_first_try(
                rng_arrival, arrival_mode, rates, counts, interval, n_int, duration, arr_state
            )
        b = (
            draw_plain(rng_service, svc_kind, svc_p1, svc_p2)
            if svc_plain
            else draw(rng_service, svc_kind, svc_p1, svc_p2, svc_table)
        )
        e = t + b
        if idle > 0:
            idle -= 1
            srv_n = _srv_add(srv, srv_n, e, srv_heap)
        else:
            top_free -= 1
            srv[0] = e
            _srv_sift_down(srv, srv_n, 0)
        busy_part += t_bound - t
        if e <= t_bound:
            done[bi] += 1
            done_part[bi] += t_bound - e
        else:
            k = _done_interval(e, interval, duration, bi, n_int)
            if k >= 0:
                done[k] += 1
                done_part[k] += _left_in(k, e, interval, duration)
        if serve_timeout:
            patience = (
                draw_plain(rng_patience, pat_kind, pat_p1, pat_p2)
                if pat_plain
                else draw(rng_patience, pat_kind, pat_p1, pat_p2, pat_table)
            )
            if b > patience:
                t_fail = t + patience
                break
    return t_arr, n, t, t_fail, srv_n, srv_heap, idle, top_free, busy_part


@njit
def run(
    rng_arrival,
    rng_service,
    rng_patience,
    rng_retry,
    rng_mark,
    duration,
    interval,
    n_int,
    arrival_mode,
    rates,
    counts,
    one_shot,
    servers,
    buffers,
    svc_kind,
    svc_p1,
    svc_p2,
    svc_table,
    pat_kind,
    pat_p1,
    pat_p2,
    pat_table,
    drop,
    max_retries,
    backoff_kind,
    backoff_base,
    backoff_multiplier,
    backoff_max,
    jitter,
    budget_on,
    budget_ratio,
    budget_window,
    budget_min_rate,
    warmup_interval,
    timeout_fifo,
    bulk_release,
    at_once,
    max_attempts,
    max_bytes,
    out_i,
    out_f,
    hist_total,
):
    """Run the simulation; fill ``out_i``, ``out_f`` and ``hist_total`` in place.

    ``timeout_fifo``: check a fixed timeout from the waiting line's ring buffer in
    arrival order (exact, O(1)) instead of through the event heap; a timeout drawn
    from a distribution always goes through the heap. ``bulk_release``: let workers
    done at once leave the workers' heap in one pass when many are (exact too).
    ``at_once``: first tries that find the line empty and several workers idle go
    through :func:`_first_tries_at_once` (the same operations). All False: the plain
    event loop and heaps, for tests.

    ``buffers``: the most requests waiting in each interval (-1: no limit).
    ``one_shot``: in each interval, the chance that a first try is one that never
    retries (an attack request): drawn from ``rng_mark`` when such a first try fails,
    which is exact since the mark does not change anything before (a coin per first
    try, independent of the rest, thinning a Poisson stream into two).

    The run stops early, with ``stopped`` set, at the end of the interval in which
    more than ``max_attempts`` attempts have arrived (1), or when the waiting line's
    ring buffer, the event heap and the workers would need more than ``max_bytes``
    bytes (2).

    Returns ``(retries still scheduled, ring-buffer capacity, event-heap
    capacity, largest waiting line, stopped, intervals run, attempts)`` at the end
    of the run.
    """
    has_timeout = pat_kind != D_NONE
    # A fixed timeout comes due in arrival order: the checks are a FIFO, the ring buffer
    # itself from sequence number `tq` on, and never enter the heap.
    fifo = has_timeout and timeout_fifo and pat_kind == D_DET
    tq = 0
    svc_plain = svc_kind <= D_LOGNORMAL
    pat_plain = pat_kind <= D_LOGNORMAL
    serve_timeout = has_timeout and not drop  # a request that starts may still time out

    # Workers: `idle` ones (their free times no longer matter: all are past), and the busy
    # ones' free times in `srv` (some may be past already). `srv` is a min-heap when
    # `srv_heap` (always while requests wait: the head of the line starts at its top);
    # `top_free` of the heap's times are known to be past. When many workers are done
    # at once they leave the heap in one pass (`_srv_keep_after`) and `srv` is a plain
    # array until a request must wait: one pass instead of one heap operation each.
    c_max = 1
    for i in range(n_int):
        c_max = max(c_max, servers[i])
    has_one_shot = False
    for i in range(n_int):
        if one_shot[i] > 0.0:
            has_one_shot = True
    stopped = 0
    attempts = 0
    worker_bytes = float(WORKER_BYTES * c_max)
    srv = np.empty(c_max, np.float64)
    srv_stack = np.empty(c_max + 1, np.int64)
    srv_n = 0
    srv_heap = True
    idle = servers[0]
    top_free = 0
    bulk = _bulk_limit(servers[0], bulk_release)
    buffer = buffers[0]

    # Waiting line: ring buffer by sequence number.
    cap = 1024
    mask = cap - 1
    rb_arr = np.empty(cap, np.float64)
    rb_pat = np.empty(cap, np.float64)
    rb_att = np.empty(cap, np.int64)
    rb_seq = np.empty(cap, np.int64)
    rb_st = np.zeros(cap, np.int8)
    head = 0  # sequence number of the head of the line
    nxt = 0  # next sequence number
    live = 0  # requests in the line whose request is still queued
    live_max = 0

    # Scheduled events.
    ev_cap = 1024
    ev_t = np.empty(ev_cap, np.float64)
    ev_p = np.empty(ev_cap, np.int64)
    ev_n = 0

    # Retry budget: sliding window of first tries (deposits) and retries (withdrawals).
    dep = np.zeros(_BUDGET_SLICES, np.float64)
    wdr = np.zeros(_BUDGET_SLICES, np.float64)
    dep_sum = 0.0
    wdr_sum = 0.0
    slice_w = budget_window / _BUDGET_SLICES
    cur_slice = 0

    hist = np.zeros(N_BINS, np.int64)
    hist_n = 0

    # Requests in service: +1 at each start; each start also books its completion in
    # the interval whose end it precedes, and the closing of an interval takes those off.
    # Removed workers still finishing ("draining") are booked alike.
    # Time averages come from the same bookings: a start at t adds (interval end - t) to
    # the interval's busy time, a completion at e takes (its interval's end - e) off.
    in_service = 0
    busy_start = 0  # in service when the interval began
    busy_part = 0.0
    done = np.zeros(n_int, np.int64)
    done_part = np.zeros(n_int, np.float64)
    draining = 0
    drain_start = 0
    drain_done = np.zeros(n_int, np.int64)
    drain_part = np.zeros(n_int, np.float64)

    arr_state = np.zeros(4)
    if arrival_mode == ARR_COUNTS:
        arr_state[2] = counts[0]
    t_arr = _next_first_try(
        rng_arrival, arrival_mode, rates, counts, interval, n_int, duration, arr_state
    )

    bi = 0
    t_bound = min(interval, duration)
    t_last = 0.0
    area = 0.0
    finished = False
    while not finished:
        # Grow the ring buffer or the event heap when the loop below found one full. Never
        # inside that loop: numba would then count references to every array reassigned
        # there on each pass, which made the whole loop about twice as slow.
        if rb_st[nxt & mask] != _FREE:
            new_cap = cap * 2
            if worker_bytes + SLOT_BYTES * (cap + new_cap) + EVENT_BYTES * ev_cap > max_bytes:
                stopped = STOP_MEMORY
                break
            new_mask = new_cap - 1
            n_arr = np.empty(new_cap, np.float64)
            n_pat = np.empty(new_cap, np.float64)
            n_att = np.empty(new_cap, np.int64)
            n_seq = np.empty(new_cap, np.int64)
            n_st = np.zeros(new_cap, np.int8)
            for j in range(cap):
                if rb_st[j] != _FREE:
                    k = rb_seq[j] & new_mask
                    n_arr[k] = rb_arr[j]
                    n_pat[k] = rb_pat[j]
                    n_att[k] = rb_att[j]
                    n_seq[k] = rb_seq[j]
                    n_st[k] = rb_st[j]
            rb_arr, rb_pat, rb_att, rb_seq, rb_st = n_arr, n_pat, n_att, n_seq, n_st
            cap = new_cap
            mask = new_mask
        if ev_n == ev_cap:
            if worker_bytes + SLOT_BYTES * cap + EVENT_BYTES * 3 * ev_cap > max_bytes:
                stopped = STOP_MEMORY
                break
            ev_cap *= 2
            ev_t = _grow_f(ev_t, ev_cap)
            ev_p = _grow_i(ev_p, ev_cap)

        while True:
            # Room for what this pass may add: one request in the line, one event.
            if rb_st[nxt & mask] != _FREE or ev_n == ev_cap:
                break
            t_start = INF
            if nxt > head:
                if idle > 0:  # only just after workers were added at an interval's start
                    t_start = max(rb_arr[head & mask], t_last)
                elif srv_n > 0:
                    t_start = max(rb_arr[head & mask], srv[0])
            t_ev = ev_t[0] if ev_n > 0 else INF
            # A timeout check from the FIFO counts as a scheduled event, before a heap
            # event at the same time.
            from_fifo = False
            if fifo and tq < nxt:
                t_to = rb_arr[tq & mask] + pat_p1
                if t_to <= t_ev:
                    t_ev = t_to
                    from_fifo = True

            # 1. End of the interval.
            if t_bound <= t_start and t_bound <= t_ev and t_bound <= t_arr:
                area += live * (t_bound - t_last)
                t_last = t_bound
                length = t_bound - bi * interval
                out_i[bi, I_QUEUE_END] = live
                out_f[bi, F_BUSY_MEAN] = (busy_start * length + busy_part - done_part[bi]) / length
                out_f[bi, F_DRAINING_MEAN] = (drain_start * length - drain_part[bi]) / length
                in_service -= done[bi]
                draining -= drain_done[bi]
                busy_start = in_service
                busy_part = 0.0
                out_i[bi, I_BUSY_END] = in_service
                out_i[bi, I_DRAINING_END] = draining
                out_f[bi, F_QUEUE_MEAN] = area / length
                # Interpolating within a bin may overshoot the largest wait: cap there.
                w_max = out_f[bi, F_WAIT_MAX]
                out_f[bi, F_P50] = min(hist_quantile(hist, hist_n, 0.5), w_max)
                out_f[bi, F_P90] = min(hist_quantile(hist, hist_n, 0.9), w_max)
                out_f[bi, F_P99] = min(hist_quantile(hist, hist_n, 0.99), w_max)
                if bi >= warmup_interval:
                    for k in range(N_BINS):
                        hist_total[k] += hist[k]
                hist[:] = 0
                hist_n = 0
                area = 0.0
                attempts += out_i[bi, I_FIRST] + out_i[bi, I_RETRY]
                if bi == n_int - 1:
                    finished = True
                    break
                if attempts > max_attempts:
                    stopped = STOP_ATTEMPTS
                    finished = True
                    break
                bi += 1
                t_bound = min((bi + 1) * interval, duration)
                c_new = servers[bi]
                bulk = _bulk_limit(c_new, bulk_release)
                buffer = buffers[bi]
                if idle + srv_n < c_new:  # added workers are idle from now
                    idle = c_new - srv_n
                elif idle + srv_n > c_new:
                    # Idle workers go first (all those done by now), then busy ones, which
                    # finish the request in hand: the last ones of the array.
                    m = _srv_keep_after(srv, srv_n, t_last)
                    idle += srv_n - m
                    srv_n = m
                    srv_heap = False
                    top_free = 0
                    idle -= min(idle, idle + srv_n - c_new)
                    if srv_n > c_new:  # no idle one left
                        for j in range(c_new, srv_n):
                            draining += 1
                            k = _done_interval(srv[j], interval, duration, bi, n_int)
                            if k >= 0:
                                drain_done[k] += 1
                                drain_part[k] += _left_in(k, srv[j], interval, duration)
                        srv_n = c_new
                    if nxt > head:
                        _srv_heapify(srv, srv_n)
                        srv_heap = True
                drain_start = draining
                continue

            attempt = -1  # set when an arrival is to be handled below
            failing = False  # set when a client's attempt has failed and may be retried
            t_first = -1.0  # a failing first try's arrival, while it may be a one-shot
            if t_start <= t_ev and t_start <= t_arr:
                # 2. The head of the line starts service.
                t = t_start
                area += live * (t - t_last)
                t_last = t
                slot = head & mask
                w = t - rb_arr[slot]
                b = (
                    draw_plain(rng_service, svc_kind, svc_p1, svc_p2)
                    if svc_plain
                    else draw(rng_service, svc_kind, svc_p1, svc_p2, svc_table)
                )
                e = t + b
                if idle > 0:
                    idle -= 1
                    srv_n = _srv_push(srv, srv_n, e)
                else:
                    srv[0] = e
                    _srv_sift_down(srv, srv_n, 0)
                    if top_free > 0:
                        top_free -= 1
                in_service += 1
                busy_part += t_bound - t
                if e <= t_bound:  # the common case, without a division
                    done[bi] += 1
                    done_part[bi] += t_bound - e
                else:
                    k = _done_interval(e, interval, duration, bi, n_int)
                    if k >= 0:
                        done[k] += 1
                        done_part[k] += _left_in(k, e, interval, duration)
                live -= 1
                head += 1
                out_i[bi, I_STARTED] += 1
                out_f[bi, F_WAIT_SUM] += w
                if w > out_f[bi, F_WAIT_MAX]:
                    out_f[bi, F_WAIT_MAX] = w
                hist[wait_bin(w)] += 1
                hist_n += 1
                st = rb_st[slot]
                if not has_timeout:
                    rb_st[slot] = _FREE
                    out_i[bi, I_SERVED] += 1
                elif st == _LATE:
                    rb_st[slot] = _FREE
                    out_i[bi, I_WASTED] += 1
                elif (not drop) and w + b > rb_pat[slot]:
                    rb_st[slot] = _DOOMED
                    out_i[bi, I_WASTED] += 1
                else:
                    rb_st[slot] = _OK
                    out_i[bi, I_SERVED] += 1
                while nxt > head and rb_st[head & mask] == _ABANDONED:
                    rb_st[head & mask] = _FREE
                    head += 1
            elif t_ev <= t_arr:
                # 3. A scheduled event: from the heap, or a timeout check from the FIFO.
                t = t_ev
                area += live * (t - t_last)
                t_last = t
                if from_fifo:
                    kind = _TIMEOUT
                    value = tq
                    tq += 1
                else:
                    payload = ev_p[0]
                    ev_n = _ev_pop(ev_t, ev_p, ev_n)
                    kind = payload & 3
                    value = payload >> 2
                if kind == _RETRY:
                    attempt = value
                elif kind == _FAIL:
                    out_i[bi, I_ABANDONED] += 1
                    failing = True
                    attempt = value
                else:
                    slot = value & mask
                    st = rb_st[slot]
                    if st == _WAITING:
                        out_i[bi, I_ABANDONED] += 1
                        failing = True
                        if drop:
                            rb_st[slot] = _ABANDONED
                            live -= 1
                            out_f[bi, F_DROP_WAIT_SUM] += t - rb_arr[slot]
                            while nxt > head and rb_st[head & mask] == _ABANDONED:
                                rb_st[head & mask] = _FREE
                                head += 1
                        else:
                            rb_st[slot] = _LATE
                        attempt = rb_att[slot]
                        t_first = rb_arr[slot]
                    elif st == _DOOMED:
                        out_i[bi, I_ABANDONED] += 1
                        failing = True
                        attempt = rb_att[slot]
                        t_first = rb_arr[slot]
                        rb_st[slot] = _FREE
                    else:  # _OK: answered in time
                        rb_st[slot] = _FREE
            else:
                # 4. A first try.
                if at_once and nxt == head and not budget_on and idle + top_free >= _AT_ONCE_MIN:
                    # Those that start at once, in a row, until something else is due (a
                    # call worth its cost when several workers are known free).
                    t_limit = min(t_bound, t_ev)
                    (t_next, n, t, t_fail, srv_n, srv_heap, idle, top_free, busy_part) = (
                        _first_tries_at_once(
                            t_arr,
                            t_limit,
                            rng_arrival,
                            arrival_mode,
                            rates,
                            counts,
                            interval,
                            n_int,
                            duration,
                            arr_state,
                            rng_service,
                            svc_plain,
                            svc_kind,
                            svc_p1,
                            svc_p2,
                            svc_table,
                            serve_timeout,
                            rng_patience,
                            pat_plain,
                            pat_kind,
                            pat_p1,
                            pat_p2,
                            pat_table,
                            srv,
                            srv_stack,
                            srv_n,
                            srv_heap,
                            idle,
                            top_free,
                            bulk,
                            bi,
                            t_bound,
                            busy_part,
                            done,
                            done_part,
                        )
                    )
                    if n > 0:
                        t_arr = t_next
                        t_last = t  # the line is empty: its area does not grow
                        in_service += n
                        hist[0] += n
                        hist_n += n
                        out_i[bi, I_FIRST] += n
                        out_i[bi, I_ADMITTED] += n
                        out_i[bi, I_IMMEDIATE] += n
                        out_i[bi, I_STARTED] += n
                        if t_fail < INF:  # the last one outlasts its client's timeout
                            out_i[bi, I_WASTED] += 1
                            out_i[bi, I_SERVED] += n - 1
                            mark = 0
                            if has_one_shot and rng_mark.random() < one_shot[bi]:
                                mark = ONE_SHOT
                            ev_n = _ev_push(ev_t, ev_p, ev_n, t_fail, mark * 4 + _FAIL)
                        else:
                            out_i[bi, I_SERVED] += n
                        continue
                t = t_arr
                area += live * (t - t_last)
                t_last = t
                attempt = 0
                t_arr = _next_first_try(
                    rng_arrival, arrival_mode, rates, counts, interval, n_int, duration, arr_state
                )

            if attempt < 0:
                continue

            if not failing:
                # An attempt arrives at time t.
                if attempt == 0:
                    out_i[bi, I_FIRST] += 1
                    if budget_on:
                        cur_slice, dep_sum, wdr_sum = _advance_budget(
                            t, slice_w, cur_slice, dep, wdr, dep_sum, wdr_sum
                        )
                        dep[cur_slice % _BUDGET_SLICES] += 1.0
                        dep_sum += 1.0
                else:
                    out_i[bi, I_RETRY] += 1
                free = False  # a worker is free at t: an idle one, or the heap's top
                if nxt == head:
                    if idle == 0 and top_free == 0:
                        idle, srv_n, srv_heap, top_free = _find_free(
                            srv, srv_n, srv_heap, top_free, bulk, t, srv_stack
                        )
                    free = idle > 0 or top_free > 0
                if free:
                    # Starts at once. The service start repeats the head of the line's lines
                    # on purpose: a shared helper, even inlined by numba, ran 25-30% slower.
                    out_i[bi, I_ADMITTED] += 1
                    out_i[bi, I_IMMEDIATE] += 1
                    out_i[bi, I_STARTED] += 1
                    hist[0] += 1
                    hist_n += 1
                    b = (
                        draw_plain(rng_service, svc_kind, svc_p1, svc_p2)
                        if svc_plain
                        else draw(rng_service, svc_kind, svc_p1, svc_p2, svc_table)
                    )
                    e = t + b
                    if idle > 0:
                        idle -= 1
                        srv_n = _srv_add(srv, srv_n, e, srv_heap)
                    else:
                        top_free -= 1
                        srv[0] = e
                        _srv_sift_down(srv, srv_n, 0)
                    in_service += 1
                    busy_part += t_bound - t
                    if e <= t_bound:
                        done[bi] += 1
                        done_part[bi] += t_bound - e
                    else:
                        k = _done_interval(e, interval, duration, bi, n_int)
                        if k >= 0:
                            done[k] += 1
                            done_part[k] += _left_in(k, e, interval, duration)
                    if has_timeout and not drop:
                        patience = (
                            draw_plain(rng_patience, pat_kind, pat_p1, pat_p2)
                            if pat_plain
                            else draw(rng_patience, pat_kind, pat_p1, pat_p2, pat_table)
                        )
                        if b > patience:
                            # Too slow: the client gives up before the answer (the one
                            # timeout a request that starts at once can have).
                            out_i[bi, I_WASTED] += 1
                            mark = attempt
                            if has_one_shot and attempt == 0:
                                if rng_mark.random() < one_shot[bi]:
                                    mark = ONE_SHOT
                            ev_n = _ev_push(ev_t, ev_p, ev_n, t + patience, mark * 4 + _FAIL)
                        else:
                            out_i[bi, I_SERVED] += 1
                    else:
                        out_i[bi, I_SERVED] += 1
                    continue
                if buffer >= 0 and live >= buffer:
                    out_i[bi, I_REFUSED] += 1
                    failing = True
                    t_first = t
                else:
                    # Joins the line (the loop's first test left its slot free).
                    out_i[bi, I_ADMITTED] += 1
                    if not srv_heap:
                        _srv_heapify(srv, srv_n)
                        srv_heap = True
                    slot = nxt & mask
                    rb_arr[slot] = t
                    rb_att[slot] = attempt
                    rb_seq[slot] = nxt
                    rb_st[slot] = _WAITING
                    if has_timeout:
                        patience = (
                            draw_plain(rng_patience, pat_kind, pat_p1, pat_p2)
                            if pat_plain
                            else draw(rng_patience, pat_kind, pat_p1, pat_p2, pat_table)
                        )
                        rb_pat[slot] = patience
                        if not fifo:
                            ev_n = _ev_push(ev_t, ev_p, ev_n, t + patience, nxt * 4 + _TIMEOUT)
                    nxt += 1
                    live += 1
                    if live > live_max:
                        live_max = live
                    continue

            # The attempt failed at time t (refused, or its client timed out): retry?
            if has_one_shot and attempt == 0 and t_first >= 0.0:
                k = min(int(t_first / interval), n_int - 1)
                if rng_mark.random() < one_shot[k]:
                    attempt = ONE_SHOT
            if attempt >= ONE_SHOT or (max_retries >= 0 and attempt >= max_retries):
                out_i[bi, I_FAILED] += 1
                continue
            if budget_on:
                cur_slice, dep_sum, wdr_sum = _advance_budget(
                    t, slice_w, cur_slice, dep, wdr, dep_sum, wdr_sum
                )
                if budget_ratio * dep_sum + budget_min_rate * budget_window - wdr_sum < 1.0:
                    out_i[bi, I_FAILED] += 1
                    continue
                wdr[cur_slice % _BUDGET_SLICES] += 1.0
                wdr_sum += 1.0
            delay = backoff_base
            if backoff_kind == B_EXPONENTIAL:
                delay = min(backoff_max, backoff_base * backoff_multiplier**attempt)
            if jitter == J_FULL:
                delay *= rng_retry.random()
            elif jitter == J_EQUAL:
                delay *= 0.5 + 0.5 * rng_retry.random()
            ev_n = _ev_push(ev_t, ev_p, ev_n, t + delay, (attempt + 1) * 4 + _RETRY)

    pending_retries = 0
    for j in range(ev_n):
        if ev_p[j] & 3 == _RETRY:
            pending_retries += 1
    return pending_retries, cap, ev_cap, live_max, stopped, bi + 1, attempts


@njit
def _done_interval(t_done, interval, duration, bi, n_int):
    """The interval at whose end a service finishing at ``t_done`` is over (an end
    exactly at a boundary counts there); -1 after the run. Never before ``bi``."""
    if t_done > duration:
        return -1
    k = int(math.ceil(t_done / interval)) - 1  # noqa: RUF046 (an int under numba too)
    if k < bi:
        return bi
    if k > n_int - 1:
        return n_int - 1
    return k


@njit
def _left_in(k, t_done, interval, duration):
    """Time from ``t_done`` to the end of interval ``k`` (within the interval)."""
    end = min((k + 1) * interval, duration)
    return end - max(t_done, k * interval)


@njit
def _grow_f(a, n):
    b = np.empty(n, np.float64)
    b[: a.size] = a
    return b


@njit
def _grow_i(a, n):
    b = np.empty(n, np.int64)
    b[: a.size] = a
    return b
