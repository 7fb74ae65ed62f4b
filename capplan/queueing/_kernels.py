"""The arithmetic of capplan.queueing, compiled with numba, one element at a time.

Every formula is a kernel of plain numbers here (the methods are described where the
public functions live: ``_poisson``, ``_incgamma``, ``erlang``, ``mmck``, ``erlang_a``,
``staffing``). A scalar call runs one kernel, in about a microsecond where numpy's fixed
overhead alone was a hundred; an array call runs the same kernel in a compiled loop
(the ``*_many`` functions at the end), so both give the same numbers. Inputs come
validated: counts as int64, the rest as float64.

This module imports numba; :mod:`._compiled` loads it on the first call, so that
``import capplan.queueing`` pays for neither numba nor the compiled code.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from scipy.special import roots_laguerre

from ._temme_coeffs import TEMME_D

# IEEE semantics (x / 0 = inf, log(-1) = nan) as numpy's, not Python's exceptions.
jit = njit(cache=True, nogil=True, error_model="numpy")

_INF = math.inf
_NAN = math.nan
_LOG2 = math.log(2.0)
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_SQRT_PI = math.sqrt(math.pi)
_SQRT2 = math.sqrt(2.0)
_SQRT_2PI = math.sqrt(2.0 * math.pi)
_SQRT_PI_2 = math.sqrt(0.5 * math.pi)
# Stirling series of stirlerr(s): B_2k / (2k (2k-1) s**(2k-1)); ten terms are exact to
# 1e-19 for s > 10.
_STIRLING = np.array(
    [
        1 / 12,
        -1 / 360,
        1 / 1260,
        -1 / 1680,
        1 / 1188,
        -691 / 360360,
        1 / 156,
        -3617 / 122400,
        43867 / 244188,
        -174611 / 125400,
    ]
)
# stirlerr(0..10) to double precision (mpmath, 40 digits); see _poisson.
_STIRLERR_INT = np.array(
    [
        0.0,
        0.08106146679532726,
        0.0413406959554093,
        0.02767792568499834,
        0.020790672103765093,
        0.016644691189821193,
        0.013876128823070748,
        0.01189670994589177,
        0.010411265261972096,
        0.009255462182712733,
        0.00833056343336287,
    ]
)
_TEMME_MIN_S = 20.0
_TEMME_SPAN = 0.3
_EPS = 1e-17
_MAX_TERMS = 5000
_BLOCK = 8
_TINY = 1e-300
_D = np.ascontiguousarray(TEMME_D)
# _D_TAIL[k, n] = max_{m >= n} |d_km|: bounds the rest of row k from column n on.
_D_TAIL = np.maximum.accumulate(np.abs(TEMME_D)[:, ::-1], axis=1)[:, ::-1].copy()
_TEMME_CUT = 1e-19
_GL_T, _GL_W = roots_laguerre(16)
# D = y + (y - x)(A - 1) cancels when x - y >> sqrt(y); beyond this loss factor the
# integral form is used instead.
_MAX_CANCELLATION = 1e3
_H_COEFS = np.array([(-1) ** k / math.factorial(k) for k in range(12, 1, -1)])
# Acklam's inverse normal: central and tail rational functions (highest power first).
_ACKLAM_LOW = 0.02425
_ACKLAM_A = np.array(
    [
        -3.969683028665376e01,
        2.209460984245205e02,
        -2.759285104469687e02,
        1.383577518672690e02,
        -3.066479806614716e01,
        2.506628277459239e00,
    ]
)
_ACKLAM_B = np.array(
    [
        -5.447609879822406e01,
        1.615858368580409e02,
        -1.556989798598866e02,
        6.680131188771972e01,
        -1.328068155288572e01,
    ]
)
_ACKLAM_C = np.array(
    [
        -7.784894002430293e-03,
        -3.223964580411365e-01,
        -2.400758277161838e00,
        -2.549732539343734e00,
        4.374664141464968e00,
        2.938163982698783e00,
    ]
)
_ACKLAM_D = np.array(
    [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00]
)
# B_{2k} / (2k)! for the series of z / expm1(z); B_1 is handled separately.
_B2K = np.array(
    [
        1 / 12,
        -1 / 720,
        1 / 30240,
        -1 / 1209600,
        1 / 47900160,
        -691 / 1307674368000,
        1 / 74724249600,
        -3617 / 10670622842880000,
    ]
)


# --- elementary pieces -----------------------------------------------------------------


@jit
def logaddexp(x, y):
    """``log(exp(x) + exp(y))`` exactly as ``numpy.logaddexp`` computes it."""
    if x == y:
        return x + _LOG2
    tmp = x - y
    if tmp > 0:
        return x + math.log1p(math.exp(-tmp))
    if tmp <= 0:
        return y + math.log1p(math.exp(tmp))
    return tmp  # NaN


@jit
def _two_square(w):
    """``w * w`` as ``hi + lo`` exactly (Dekker's product)."""
    hi = w * w
    big = w * 134217729.0  # 2**27 + 1
    wh = big - (big - w)
    wl = w - wh
    lo = ((wh * wh - hi) + 2.0 * wh * wl) + wl * wl
    return hi, lo


@jit
def erfcx(w):
    """``exp(w**2) erfc(w)`` for ``w >= 0``, to a few ulps."""
    if w < 0.5:
        return math.exp(w * w) * math.erfc(w)
    if w < 26.0:
        hi, lo = _two_square(w)
        return math.exp(hi) * math.erfc(w) * (1.0 + lo)
    # Asymptotic series 1/(w sqrt(pi)) sum_k (-1)^k (2k-1)!! / (2 w^2)^k; at w >= 26
    # the term after k = 7 is below 2e-19.
    inv = 1.0 / (2.0 * w * w)
    term = 1.0
    total = 1.0
    for k in range(1, 8):
        term *= -(2 * k - 1) * inv
        total += term
    return total / (w * _SQRT_PI)


@jit
def _horner(coefs, z):
    out = 0.0
    for i in range(coefs.size):
        out = out * z + coefs[i]
    return out


@jit
def ndtri(p):
    """Inverse standard normal cdf for ``0 < p < 1``: Acklam's rational approximation
    (1e-9 relative) and one Halley step. Used only for first guesses."""
    if p <= 0.0:
        return -_INF
    if p >= 1.0:
        return _INF
    if _ACKLAM_LOW <= p <= 1.0 - _ACKLAM_LOW:
        q = p - 0.5
        r = q * q
        x = q * _horner(_ACKLAM_A, r) / (_horner(_ACKLAM_B, r) * r + 1.0)
    else:
        q = math.sqrt(-2.0 * math.log(min(p, 1.0 - p)))
        x = _horner(_ACKLAM_C, q) / (_horner(_ACKLAM_D, q) * q + 1.0)
        if p > 0.5:
            x = -x
    e = 0.5 * math.erfc(-x / math.sqrt(2.0)) - p
    u = e * math.sqrt(2.0 * math.pi) * math.exp(0.5 * x * x)
    return x - u / (1.0 + 0.5 * x * u)


# --- Poisson pmf in saddle-point form (see _poisson) -----------------------------------


@jit
def stirlerr(s):
    """``lgamma(s + 1) - (s + 1/2) log s + s - log(2 pi)/2`` for ``s >= 1``."""
    if s > 10.0:
        r = 1.0 / (s * s)
        series = 0.0
        for i in range(_STIRLING.size - 1, -1, -1):
            series = series * r + _STIRLING[i]
        return series / s
    if s == math.floor(s):
        return _STIRLERR_INT[int(s)]
    return math.lgamma(s + 1.0) - (s + 0.5) * math.log(s) + s - _HALF_LOG_2PI


@jit
def bd0(s, x):
    """``s log(s/x) + x - s >= 0``, accurate when ``x`` is near ``s``."""
    if s == 0.0:
        return x
    if x == 0.0:
        return _INF
    v = (s - x) / (s + x)
    if abs(v) < 0.2:
        total = (s - x) * v
        term = 2.0 * s * v
        v2 = v * v
        if v2 == 0.0:
            n_terms = 1
        else:
            terms = math.ceil(math.log(1e-18) / math.log(v2))
            n_terms = min(20, int(terms) + 1)
        for j in range(1, n_terms + 1):
            term = term * v2
            total = total + term / (2 * j + 1)
        return total
    return s * math.log(s / x) + x - s


@jit
def log_pmf(s, x):
    """``log(x**s e**-x / Gamma(s + 1))`` for real ``s >= 0``."""
    if s >= 1.0:
        return -stirlerr(s) - bd0(s, x) - 0.5 * math.log(2.0 * math.pi * s)
    if s == 0.0:
        return -x
    return s * math.log(x) - x - math.lgamma(s + 1.0)


# --- incomplete gamma ratios (see _incgamma) ------------------------------------------


@jit
def in_temme(s, x):
    return s >= _TEMME_MIN_S and abs(x - s) <= _TEMME_SPAN * s


@jit
def series_sums(s, x):
    """``A = sum_j t_j`` and ``D = sum_j j t_j``, ``t_j = x**j / ((s+1)...(s+j))``."""
    term = 1.0
    total = 1.0
    moment = 0.0
    j = 0
    while j < _MAX_TERMS:
        for _ in range(_BLOCK):
            j += 1
            term *= x / (s + j)
            total += term
            moment += j * term
        if j * term <= _EPS * total and x < s + j:
            return total, moment
    return 1.0, 0.0


@jit
def cf_upper(s, x):
    """``Q(s, x) / p(s; x)`` by Legendre's continued fraction (modified Lentz)."""
    b = x + 1.0 - s
    c = 1.0 / _TINY
    d = 1.0 / b
    h = d
    i = 0
    while i < _MAX_TERMS:
        delta = 1.0
        for _ in range(_BLOCK):
            i += 1
            an = -i * (i - s)
            b = b + 2.0
            d = an * d + b
            if abs(d) < _TINY:
                d = _TINY
            c = b + an / c
            if abs(c) < _TINY:
                c = _TINY
            d = 1.0 / d
            delta = d * c
            h = h * delta
        if abs(delta - 1.0) <= 2e-16:
            return s * h
    return _NAN


@jit
def temme_sum(eta, s):
    """``sum_k c_k(eta) / s**k``, each row ``c_k`` cut where the rest of its terms,
    bounded by ``_D_TAIL``, is below ``1e-19``."""
    ae = abs(eta)
    inv_s = 1.0 / s
    k_terms = 0
    scale = 1.0  # s**-k
    for k in range(_D.shape[0]):
        if _D_TAIL[k, 0] * scale > _TEMME_CUT:
            k_terms = k + 1
        scale *= inv_s
    scale = inv_s ** (k_terms - 1)
    total = 0.0
    for k in range(k_terms - 1, -1, -1):
        threshold = _TEMME_CUT / scale
        n_k = 0
        power = 1.0  # |eta|**n_k
        while n_k < _D.shape[1] and _D_TAIL[k, n_k] * power > threshold:
            power *= ae
            n_k += 1
        ck = 0.0
        for n in range(n_k - 1, -1, -1):
            ck = ck * eta + _D[k, n]
        total = total * inv_s + ck
        scale *= s
    return total


@jit
def temme(s, x, upper):
    """``log Q/p`` (``upper``) or ``log P/p`` by Temme's expansion (DLMF 8.12.8)."""
    dev = bd0(s, x)
    if x > s:
        eta = math.sqrt(2.0 * dev / s)
    elif x < s:
        eta = -math.sqrt(2.0 * dev / s)
    else:
        eta = 0.0
    w = eta * math.sqrt(0.5 * s)
    r = temme_sum(eta, s) / math.sqrt(2.0 * math.pi * s)
    shift = stirlerr(s) + _HALF_LOG_2PI + 0.5 * math.log(s)
    sign = 1.0 if upper else -1.0
    tail = eta >= 0 if upper else eta <= 0
    if tail:
        return math.log(0.5 * erfcx(abs(w)) + sign * r) + shift
    return math.log(0.5 * math.erfc(sign * w) + sign * math.exp(-dev) * r) + dev + shift


@jit
def finite_upper_ratio(c, x):
    """``Q(c, x) / p(c; x) = P[N <= c-1] / P[N = c]`` for whole ``c``, ``N ~ Poisson(x)``:
    ``sum_{j=1..c} c (c-1) ... (c-j+1) / x**j`` in Horner form. Every term is positive,
    so the sum is exact to about ``c`` ulps; for ``1 <= c < 20`` and ``x >= 1`` no term
    exceeds ``19!``."""
    inv = 1.0 / x
    total = 0.0
    for i in range(1, int(c) + 1):  # the innermost factor first: (1 + ... (1 + 1/x))
        total = (1.0 + total) * (i * inv)
    return total


@jit
def log_upper_ratio(s, x):
    """``log(Q(s, x) / p(s; x))`` for ``s > 0``, ``x >= 0``."""
    if in_temme(s, x):
        return temme(s, x, True)
    if s < _TEMME_MIN_S and x >= 1.0 and s == math.floor(s):
        return math.log(finite_upper_ratio(s, x))
    if x < s + 1.0:
        log_a = math.log(series_sums(s, x)[0])
        lp = log_pmf(s, x)
        return math.log1p(-math.exp(lp + log_a)) - lp
    return math.log(cf_upper(s, x))


@jit
def log_lower_ratio(s, x):
    """``log(P(s, x) / p(s; x))`` for ``s > 0``, ``x >= 0``."""
    if in_temme(s, x):
        return temme(s, x, False)
    if x < s + 1.0:
        return math.log(series_sums(s, x)[0])
    lp = log_pmf(s, x)
    return math.log1p(-math.exp(lp + math.log(cf_upper(s, x)))) - lp


# --- Erlang B and C, M/M/c (see erlang) ------------------------------------------------


@jit
def log_poisson_ratio(c, a):
    """``log(P[N <= c-1] / P[N = c])``, ``N ~ Poisson(a)``; -inf at ``c = 0``."""
    if c > 0:
        return log_upper_ratio(float(c), a)
    return -_INF


@jit
def erlang_b(c, a):
    """``1 / (1 + R)``, ``R = P[N <= c-1] / P[N = c]``."""
    return math.exp(-logaddexp(0.0, log_poisson_ratio(c, a)))


@jit
def erlang_c(c, a):
    """``1 / (1 + R (1 - a/c))``; 1 where ``a >= c``. ``log(1 - a/c)`` is formed from
    ``c - a``, exact near ``a = c``."""
    if a < c:
        return math.exp(-logaddexp(0.0, log_poisson_ratio(c, a) + math.log((c - a) / c)))
    return 1.0


@jit
def mmc(c, lam, tau):
    """``(load, utilisation, wait_prob, mean_wait, mean_queue)`` of M/M/c."""
    a = lam * tau
    wait_prob = erlang_c(c, a)
    if a < c:
        slack = c - a
        mean_wait = wait_prob * tau / slack
        mean_queue = wait_prob * a / slack
    else:
        mean_wait = _INF
        mean_queue = _INF
    utilisation = a / c if c > 0 else _INF
    return a, utilisation, wait_prob, mean_wait, mean_queue


@jit
def ggc_mean_wait(c, lam, tau, ca2, cs2):
    """Allen-Cunneen: M/M/c's mean wait times ``(ca2 + cs2) / 2``, for one set of numbers
    (arrays: ``approx.ggc_mean_wait`` scales ``mmc``'s mean wait the same way)."""
    base = mmc(c, lam, tau)[3]
    if math.isinf(base):
        return _INF
    return base * (ca2 + cs2) / 2.0


# --- M/M/c/K (see mmck) ----------------------------------------------------------------


@jit
def _log_geom(log_rho, n, top):
    """``log sum_{j<n} rho**j - max(0, top log rho)``; -inf at ``n = 0``.

    The shift by the largest term of the full sum keeps every log moderate, so that
    ratios of sums do not inherit the rounding of a huge ``m log rho``.
    """
    if n == 0.0:
        return -_INF
    if log_rho == 0.0:
        return math.log(n)
    neg = -abs(log_rho)
    ratio = math.log(math.expm1(n * neg) / math.expm1(neg))
    if log_rho > 0:
        return (n - 1.0 - top) * log_rho + ratio
    return ratio


@jit
def _bernoulli_g(z):
    """``z / expm1(z)``, 1 at ``z = 0``."""
    if z == 0.0:
        return 1.0
    if math.isinf(z):
        return 0.0 if z > 0 else -z
    return z / math.expm1(z)


@jit
def _truncated_geometric_mean(log_rho, m):
    """Mean of ``J`` on ``0..m`` with ``P(J = j)`` proportional to ``rho**j``.

    Equals ``(g(-u) - g(-L)) / L`` with ``g(z) = z / expm1(z)``, ``L = log rho`` and
    ``u = (m + 1) L``; for small ``|u|`` that difference cancels, so the Bernoulli series
    ``sum_k B_2k / (2k)! L**(2k-1) ((m+1)**(2k) - 1) + m/2`` is used instead.
    """
    u = (m + 1.0) * log_rho
    if abs(u) < 0.5:
        series = 0.5 * m
        step = (m + 1.0) ** 2
        power = step
        lpow = log_rho
        for i in range(_B2K.size):
            series = series + _B2K[i] * lpow * (power - 1.0)
            power = power * step
            lpow = lpow * log_rho * log_rho
        return series
    return (_bernoulli_g(-u) - _bernoulli_g(-log_rho)) / log_rho


@jit
def mmck(c, k, a, tau):
    """``(blocking, wait_prob, mean_queue, mean_in_system, carried, utilisation,
    throughput, mean_wait)`` of M/M/c/K, ``k >= c >= 1``."""
    m = float(k - c)
    log_rho = math.log(a / c) if a > 0 else -_INF
    # Every log below is shifted by max(0, m log rho), the largest geometric term.
    m_log_rho = m * log_rho if m > 0 else 0.0  # log rho**m, also when rho = 0
    top = max(m_log_rho, 0.0)
    log_r = log_poisson_ratio(c, a) - top  # log of P[N < c] / P[N = c]
    log_g_all = _log_geom(log_rho, m + 1.0, m)  # queue states c..K
    log_g_open = _log_geom(log_rho, m, m)  # queue states c..K-1 (admitting)
    log_norm = logaddexp(log_r, log_g_all)  # 1 / pi_c
    if a == 0:
        blocking = 0.0
    else:
        blocking = math.exp(m_log_rho - top - log_norm)
    if log_r == _INF:  # pmf(c) underflowed
        admitted = 1.0
    else:  # 1 - blocking
        admitted = math.exp(logaddexp(log_r, log_g_open) - log_norm)
    if a == 0:
        wait_prob = 0.0
        mean_queue = 0.0
    else:
        wait_prob = math.exp(-logaddexp(0.0, log_r - log_g_open))
        p_busy = math.exp(-logaddexp(0.0, log_r - log_g_all))  # all servers busy
        mean_queue = p_busy * _truncated_geometric_mean(log_rho, m)
    carried = a * admitted
    mean_wait = 0.0 if a == 0 else mean_queue * tau / carried
    return (
        blocking,
        wait_prob,
        mean_queue,
        mean_queue + carried,
        carried,
        carried / c,
        carried / tau,
        mean_wait,
    )


# --- Erlang A (see erlang_a) -----------------------------------------------------------


@jit
def _h(s):
    """``exp(-s) - 1 + s >= 0``, by its Taylor series below 0.1."""
    if s < 0.1:
        acc = 0.0
        for i in range(_H_COEFS.size):
            acc = acc * s + _H_COEFS[i]
        return acc * s * s
    return math.expm1(-s) + s


@jit
def _moment_integral(x, y):
    """``D`` for ``x - y >> sqrt(y)`` by 16-point Gauss-Laguerre (see erlang_a)."""
    d = x - y
    total = 0.0
    for i in range(_GL_T.size):
        s = _GL_T[i] / d
        total += -math.expm1(-s) * math.exp(-y * _h(s)) * _GL_W[i]
    return x * y / d * total


@jit
def log_a_and_moment(x, y):
    """``log A`` and ``log(D / A)`` for ``x > 0``, ``y > 0``.

    ``D / A`` rather than ``D``: where ``A`` is huge (overload) adding a small term to
    ``log A`` would round away digits that cancel later.
    """
    if not in_temme(x, y) and y < x + 1.0:
        total, moment = series_sums(x, y)
        return math.log(total), math.log(moment / total)
    log_a = log_lower_ratio(x, y)
    # D / A = y / A + (y - x)(1 - 1/A): no overflow when A is huge (overload).
    scaled = y * math.exp(-log_a) - (y - x) * math.expm1(-log_a)
    out = math.log(scaled)
    excess = (x - y) * -math.expm1(-log_a)
    if x > y and excess > _MAX_CANCELLATION * scaled:
        out = math.log(_moment_integral(x, y)) - log_a
    return log_a, out


@jit
def erlang_a(n, lam, tau, pat):
    """``(load, wait_prob, abandon_prob, mean_wait, mean_queue, utilisation, log_w,
    log_a)`` of M/M/n+M, ``n >= 1``."""
    a = lam * tau
    x = n * pat / tau
    y = lam * pat
    log_w = -_INF
    log_a = 0.0
    abandon = 0.0
    if y > 0:
        log_r = log_poisson_ratio(n, a)
        log_a, log_d_over_a = log_a_and_moment(x, y)
        log_w = -logaddexp(0.0, log_r - log_a)
        abandon = math.exp(log_d_over_a - math.log(y) + log_w)
    mean_wait = abandon * pat
    return (
        a,
        math.exp(log_w),
        abandon,
        mean_wait,
        lam * mean_wait,
        a * (1.0 - abandon) / n,
        log_w,
        log_a,
    )


@jit
def erlang_a_offered_tail(n, lam, tau, pat, log_w, log_a, t):
    """``ErlangA.offered_wait_tail(t)``: ``P(W > 0) P(x, y e^-theta t) / P(x, y)``."""
    x = n * pat / tau
    y = lam * pat
    u = t / pat  # theta t
    if not (y > 0 and math.isfinite(u)):
        return 0.0
    y_later = y * math.exp(-u)
    log_shift = -x * u - y * math.expm1(-u)  # log p(x; y') - log p(x; y)
    delta = log_shift + log_lower_ratio(x, y_later) - log_a
    return math.exp(log_w + min(delta, 0.0))


@jit
def erlang_a_miss(n, lam, tau, pat, abandon, log_w, log_a, t):
    """``ErlangA.miss_prob(t)``: abandons, or waits more than ``t`` before service,
    ``P(Ab) + P(W > t) (1 - q(t))`` (see the method)."""
    keep = math.exp(-t / pat)
    tail = erlang_a_offered_tail(n, lam, tau, pat, log_w, log_a, t) * keep
    x = n * pat / tau
    y_t = lam * pat * keep
    later = 0.0
    if y_t > 0 and tail > 0:
        later = math.exp(log_a_and_moment(x, y_t)[1]) / y_t
    return min(abandon + tail * (1.0 - min(later, 1.0)), 1.0)


# --- staffing search (see staffing) ----------------------------------------------------

# Targets and models, the codes servers_for passes.
BLOCKING_B = 0
BLOCKING_K = 1
ABANDON_A = 2
WAIT_A = 3
WAIT_C = 4
LEVEL_A = 5
LEVEL_C = 6
MEAN_WAIT_A = 7
MEAN_WAIT_C = 8

_MAX_ROUNDS = 200
_NEWTON_ROUNDS = 12
_BIG = np.iinfo(np.int64).max // 4


@jit
def _score(kind, c, a, tau, pat, room, limit, t, factor):
    """``(score, measure)`` at ``c`` servers; the score is ``<= 0`` where the target is met
    (a difference of logs, nearly linear in ``c``)."""
    if kind == LEVEL_A or kind == LEVEL_C:
        if kind == LEVEL_A:
            lam = a / tau
            q = erlang_a(c, lam, tau, pat)
            miss = erlang_a_miss(c, lam, tau, pat, q[2], q[6], q[7], t)
        else:
            miss = erlang_c(c, a) * math.exp(-(c - a) * t / tau)
        return math.log(miss) - math.log1p(-limit), 1.0 - miss
    if kind == BLOCKING_B:
        value = erlang_b(c, a)
    elif kind == BLOCKING_K:
        value = mmck(c, c + room, a, 1.0)[0]
    elif kind == ABANDON_A:
        value = erlang_a(c, a / tau, tau, pat)[2]
    elif kind == WAIT_A:
        value = erlang_a(c, a / tau, tau, pat)[1]
    elif kind == WAIT_C:
        value = erlang_c(c, a)
    elif kind == MEAN_WAIT_A:
        value = erlang_a(c, a / tau, tau, pat)[3]
    else:
        value = erlang_c(c, a) * tau / (c - a) * factor
    return math.log(value) - math.log(limit), value


@jit
def _qed_beta(kind, a, tau, limit, t, factor):
    """``beta`` that meets an Erlang B or C target at ``c = a + beta sqrt(a)`` under the
    many-server (Halfin-Whitt) approximations ``C ~ 1 / (1 + beta Phi(beta) / phi(beta))``
    and ``B ~ phi(beta) / (sqrt(a) Phi(beta))`` (Jagerman), by Newton steps on the log of
    the measure: a first guess within a server or so of the answer for large loads, where
    square-root staffing alone can be dozens off."""
    if kind == WAIT_C:
        goal = math.log(limit)
    elif kind == LEVEL_C:
        goal = math.log1p(-limit)
    elif kind == MEAN_WAIT_C:  # C tau factor / (beta sqrt(a)) = limit
        goal = math.log(limit / (tau * factor))
    else:  # BLOCKING_B, BLOCKING_K (Erlang B's count bounds the one with a waiting room)
        goal = math.log(limit) + 0.5 * math.log(a)
    root = math.sqrt(a)
    decay = root * t / tau  # LEVEL_C: the wait tail falls as exp(-beta decay)
    blocking = kind == BLOCKING_B or kind == BLOCKING_K
    if blocking:  # B may need fewer servers than the load: down to the fluid a (1 - B)
        lowest, beta = -root, min(1.0, 0.5 - limit * root)
    else:  # a waiting queue needs c > a
        lowest, beta = 1e-3, 1.0
    for _ in range(12):
        if beta > 0:  # Phi(beta) / phi(beta)
            ratio = _SQRT_2PI * (1.0 - 0.5 * math.erfc(beta / _SQRT2)) * math.exp(0.5 * beta * beta)
        else:  # the same by erfcx, exact however negative
            ratio = _SQRT_PI_2 * erfcx(-beta / _SQRT2)
        if blocking:  # log B + log sqrt(a)
            value = -math.log(ratio) - goal
            slope = -1.0 / ratio - beta
        else:
            value = -math.log1p(beta * ratio) - goal  # log C - goal
            slope = -(ratio + beta * (1.0 + beta * ratio)) / (1.0 + beta * ratio)
        if kind == LEVEL_C:
            value -= beta * decay
            slope -= decay
        elif kind == MEAN_WAIT_C:
            value -= math.log(beta * root)
            slope -= 1.0 / beta
        step = value / slope
        beta = min(max(beta - step, lowest), 8.0)
        if abs(step) < 1e-3:
            break
    return beta


@jit
def _start(kind, a, tau, pat, limit, t, factor):
    """``(c_min, first guess)``: square-root staffing, or a fluid estimate."""
    # Fluid estimates for Erlang A: with c < a servers the queue abandons at rate
    # a - c, so P(Ab) = 1 - c/a, and the wait before service is pat log(a/c).
    fluid = 0.0
    if kind == ABANDON_A:
        fluid = a * (1.0 - limit)
    elif kind == MEAN_WAIT_A:  # E[W] = P(Ab) pat
        fluid = a * (1.0 - min(limit / pat, 1.0))
    elif kind == LEVEL_A:  # served within t: the c/a served, if pat log(a/c) <= t
        fluid = a * max(limit, math.exp(-t / pat))
    if kind == ABANDON_A or kind == MEAN_WAIT_A or (kind == LEVEL_A and fluid < a):
        start = fluid
    else:
        if kind == WAIT_A:
            beta = 0.8 * ndtri(1.0 - limit)
        elif kind == LEVEL_A:
            beta = ndtri(limit)
        else:  # the Erlang B and C targets; B may need fewer servers than the load
            beta = _qed_beta(kind, a, tau, limit, t, factor)
        lowest = -math.sqrt(a) if kind == BLOCKING_B or kind == BLOCKING_K else 0.0
        start = a + min(max(beta, lowest), 8.0) * math.sqrt(a)
    c_min = 1
    if kind == WAIT_C or kind == LEVEL_C or kind == MEAN_WAIT_C:
        # Without abandonment only c > a is stable.
        c_min = int(math.floor(a)) + 1  # noqa: RUF046 (numba)
    # The pair (c, c + 1) brackets a root at start when c = floor(start).
    return c_min, max(c_min, int(math.floor(start)))  # noqa: RUF046 (numba)


@jit
def servers_for(kind, a, tau, pat, room, limit, t, factor):
    """``(servers, achieved)``: least ``c >= c_min`` meeting the target, as the array
    search does it (see ``staffing._search``): pairs ``(c, c + 1)``, Newton steps on the
    score, galloping and bisection as the fallback. ``servers = -1`` if it did not end."""
    c_min, c = _start(kind, a, tau, pat, limit, t, factor)
    step = max(1, int(math.ceil(0.5 * math.sqrt(a))))  # noqa: RUF046 (numba)
    lo = c_min - 1  # largest count known to fail
    hi = _BIG  # smallest count known to meet
    achieved = _NAN
    prev, pf0, pv0, pf1, pv1 = -2, 0.0, 0.0, 0.0, 0.0  # the last round's pair
    for round_ in range(_MAX_ROUNDS):
        if hi - lo <= 1:
            return hi, achieved
        left = min(max(c, lo + 1), max(hi - 1, lo + 1))
        # The last round's pair often shares a point with this one: reuse it.
        if left == prev + 1:
            f0, v0 = pf1, pv1
        elif left == prev and round_ > 0:
            f0, v0 = pf0, pv0
        else:
            f0, v0 = _score(kind, left, a, tau, pat, room, limit, t, factor)
        if left + 1 == prev:
            f1, v1 = pf0, pv0
        else:
            f1, v1 = _score(kind, left + 1, a, tau, pat, room, limit, t, factor)
        prev, pf0, pv0, pf1, pv1 = left, f0, v0, f1, v1
        if f0 <= 0:
            if left < hi:
                hi = left
                achieved = v0
        elif left > lo:
            lo = left
        if f1 <= 0:
            if left + 1 < hi:
                hi = left + 1
                achieved = v1
        elif left + 1 > lo:
            lo = left + 1
        slope = f1 - f0
        newton = left - f0 / slope
        usable = math.isfinite(newton) and slope < 0 and abs(newton - left) < 1e15
        hi_known = hi < _BIG
        bisect = hi_known and (lo >= c_min or hi - lo <= 2 * step)
        if bisect:
            fallback = lo + (hi - lo) // 2
        else:
            fallback = hi - 1 - step if hi_known else lo + step
            step = 2 * step
        # newton == hi: the root is at the least count known to meet; check hi - 1 next.
        if usable and round_ < _NEWTON_ROUNDS and lo < newton <= hi:
            c = int(math.floor(newton))  # noqa: RUF046 (numba)
        else:
            c = fallback
    if hi - lo <= 1:
        return hi, achieved
    return -1, achieved


# --- array loops: the same kernels over flat, contiguous arrays ------------------------


@jit
def log_upper_ratio_many(s, x, out):
    for i in range(out.size):
        out[i] = log_upper_ratio(s[i], x[i])


@jit
def log_lower_ratio_many(s, x, out):
    for i in range(out.size):
        out[i] = log_lower_ratio(s[i], x[i])


@jit
def log_pmf_many(s, x, out):
    for i in range(out.size):
        out[i] = log_pmf(s[i], x[i])


@jit
def bd0_many(s, x, out):
    for i in range(out.size):
        out[i] = bd0(s[i], x[i])


@jit
def stirlerr_many(s, out):
    for i in range(out.size):
        out[i] = stirlerr(s[i])


@jit
def erlang_b_many(c, a, out):
    for i in range(out.size):
        out[i] = erlang_b(c[i], a[i])


@jit
def erlang_c_many(c, a, out):
    for i in range(out.size):
        out[i] = erlang_c(c[i], a[i])


@jit
def mmc_many(c, lam, tau, out):
    for i in range(c.size):
        r = mmc(c[i], lam[i], tau[i])
        for j in range(len(r)):
            out[j, i] = r[j]


@jit
def mmck_many(c, k, a, tau, out):
    for i in range(c.size):
        r = mmck(c[i], k[i], a[i], tau[i])
        for j in range(len(r)):
            out[j, i] = r[j]


@jit
def erlang_a_many(n, lam, tau, pat, out):
    for i in range(n.size):
        r = erlang_a(n[i], lam[i], tau[i], pat[i])
        for j in range(len(r)):
            out[j, i] = r[j]


@jit
def erlang_a_offered_tail_many(n, lam, tau, pat, log_w, log_a, t, out):
    for i in range(out.size):
        out[i] = erlang_a_offered_tail(n[i], lam[i], tau[i], pat[i], log_w[i], log_a[i], t[i])


@jit
def erlang_a_miss_many(n, lam, tau, pat, abandon, log_w, log_a, t, out):
    for i in range(out.size):
        out[i] = erlang_a_miss(n[i], lam[i], tau[i], pat[i], abandon[i], log_w[i], log_a[i], t[i])


@jit
def servers_for_many(kind, a, tau, pat, room, limit, t, factor, servers, achieved):
    for i in range(servers.size):
        servers[i], achieved[i] = servers_for(
            kind, a[i], tau[i], pat[i], room[i], limit[i], t[i], factor[i]
        )
