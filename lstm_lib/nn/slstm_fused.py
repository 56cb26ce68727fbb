"""The fast path of ``lnn.SLSTM``: one layer over the whole sequence, hand-derived BPTT.

The generic path (:func:`lstm_lib.nn.slstm.slstm_step` in a Python loop) builds an autograd graph
of about twenty small ops per time step. Here the stabilised sLSTM ((S1), (S2), (S6)-(S8) of
:mod:`lstm_lib.reference.slstm`) and its backward ((S9)-(S14), ``slstm_step_backward``) are
written once more, in torch, as one :class:`torch.autograd.Function` per layer, as
:mod:`lstm_lib.nn.fused` does for the LSTM:

* forward: W x_t + b for all T steps in one matrix product; per step one ``h_{t-1} @ U^T``
  (``addmm_``) and the pointwise work, written with ``out=`` into preallocated buffers that are
  saved for the backward (no per-step graph). Pairs of (N, H) quantities that go through the
  same op sit side by side in (N, 2, H) buffers, so one op serves both: (ĩ_t, log f_t + m_{t-1})
  minus m_t, then exp, gives (i'_t, f'_t) (S7); (n̄, c̄) are updated together (S8);
* backward: per step only the recurrence; every factor that does not depend on it (i'_t, f'_t,
  1 - f_t, 1/n̄_t, q_t = c̄_t / n̄_t, tanh' and σ') is computed for all t at once before the loop;
  the weight gradients are a few big products at the end, as in :mod:`lstm_lib.nn.fused`.

The stabiliser's state m_t gets a gradient only through the max of (S6). Its total gradient at
step t, dm_t = dm_{t+1→t} - du_i - du_f (S12), is dm_{t+1} ⊙ [take_f at t + 1] in exact arithmetic
(the m-terms cancel, see the reference module), started from dm_T - dc̄_T ⊙ c̄_T - dn̄_T ⊙ n̄_T.
So when no gradient reaches c̄_T, n̄_T or m_T (a loss on the outputs h_t only, the common case)
dm_t is 0 at every step and the loop skips it; otherwise it carries dm_t as (S12)-(S13) do.

Empty memory (n̄_{t-1} = 0, as at the zero initial state): the step stores log f_t + m_{t-1} as
-inf there, so m_t = ĩ_t, f'_t = 0 and take_f is false, exactly (S6)-(S8)'s "start afresh", with
no extra work in the backward. Since n̄_t >= 1 after any step from n̄_{t-1} >= 0, only the first
step can meet an empty memory unless n̄_0 holds negative (or NaN) entries; then every step checks.

Higher-order gradients (``create_graph=True``, ``gradgradcheck``) and batched gradients go
through the generic loop (:func:`lstm_lib.nn.fused._backward_by_loop`), as for the LSTM.
:func:`run_inference` is the forward without anything saved, for when no gradient is needed.

Compiled loops: at small sizes the Python loops spend most of their time dispatching a dozen
small torch ops per step. ``_slstm_steps.cpp`` runs the same loops in C++, per step one BLAS
product and one vectorised pass over the gates (the backward's dm_t = 0 case; with dm_t the
Python loop serves), on float32 and float64 CPU tensors. It is built on first use with
:mod:`lstm_lib.nn.compiled`'s flags and switched with the same ``use_compiled`` /
``LSTM_LIB_COMPILED``; where it cannot be built the Python loops run, with one warning. Both
give the same results to rounding (tests/test_nn_slstm.py runs every check on both).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from lstm_lib.nn import fused

State = tuple[Tensor, Tensor, Tensor, Tensor]


def applies(x: Tensor, stabilised: bool) -> bool:
    """Whether the fused path serves a layer on ``x`` (T, N, D): on (``lnn.fast_path``), the
    stabilised form, a non-empty batch, no autocast, no ``torch.func`` transform or forward AD."""
    return (fused.fast_path_enabled() and stabilised and x.dim() == 3 and x.size(0) > 0
            and x.size(1) > 0 and not fused._autocast_enabled(x.device.type)
            and not fused._transformed())


def grad_needed(*tensors: Tensor | None) -> bool:
    """Whether a gradient may be asked of a result computed from ``tensors``."""
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


# ---- the compiled loops (_slstm_steps.cpp) --------------------------------------------------
_SOURCE = Path(__file__).with_name("_slstm_steps.cpp")
_loaded: bool | None = None  # None: not tried yet; then whether the build succeeded
_error: str | None = None


def compiled_available(t: Tensor) -> bool:
    """Whether the compiled loops serve a tensor like ``t``: float32 or float64 on the CPU, the
    compiled loops on (:func:`lstm_lib.nn.compiled.use_compiled`, ``LSTM_LIB_COMPILED``), and
    ``_slstm_steps.cpp`` built (on first use, into torch's extension cache; a failure warns once
    and the Python loops serve, with the same results)."""
    from lstm_lib.nn import compiled

    if not (compiled.enabled() and t.device.type == "cpu"
            and t.dtype in (torch.float32, torch.float64)):
        return False
    if _loaded is None:
        _load()
    return bool(_loaded)


def _load() -> None:
    global _loaded, _error
    from lstm_lib.nn import compiled

    try:
        compiled.build(_SOURCE, "lstm_lib_slstm_steps")
        _loaded = True
    except Exception as exc:  # noqa: BLE001 - any failure to build means: use the Python loops
        _loaded, _error = False, compiled.build_failed(exc, "sLSTM", _SOURCE, "lnn.SLSTM uses")


def run_layer(x: Tensor, state0: State, W: Tensor, U: Tensor, b_ih: Tensor | None,
              b_hh: Tensor | None) -> tuple[Tensor, State]:
    """One stabilised sLSTM layer over ``x``: the fused Function, or :func:`run_inference` when
    no gradient is needed.

    Shapes: x (T, N, D); state0 = (h_0, c̄_0, n̄_0, m_0), each (N, H); W (4H, D); U (4H, H);
    b_ih, b_hh (4H,) or None. Returns output (T, N, H) and (h_T, c̄_T, n̄_T, m_T).
    """
    if grad_needed(x, *state0, W, U, b_ih, b_hh):
        out, *state = SLSTMFunction.apply(x, *state0, W, U, b_ih, b_hh)
        return out, tuple(state)
    return run_inference(x, state0, W, U, b_ih, b_hh)


def _zf(t: Tensor | None, H: int) -> Tensor | None:
    """Swap the f and z blocks: i, f, z, o -> i, z, f, o (its own inverse).

    Then ĩ sits next to the z̃ slot, which takes log f + m_{t-1} once z is computed, so one op
    serves the pair in (S7); and f̃, õ are side by side for one log σ. Cheap: it copies weights
    (and weight gradients), never activations.
    """
    return None if t is None else torch.cat([t[:H], t[2 * H:3 * H], t[H:2 * H], t[3 * H:]])


def _loop(G: Tensor, state0: State, U: Tensor, bufs: dict | None):
    """The forward time loop, (S1), (S2), (S6)-(S8), in place on ``G`` (T, N, 4H) = W x_t + b,
    blocks i, z, f, o (:func:`_zf`); ``U`` likewise.

    Per step: z = tanh z̃, then log f + m_{t-1} into the z̃ slot, next to ĩ; m_t (S6);
    (ĩ, log f + m_{t-1}) - m_t and one exp give (i', f') (S7); (c̄, n̄) = f' (c̄, n̄)_{t-1} +
    i' (z, 1) (S8); h_t = o c̄ / n̄.
    With ``bufs`` (training) every step's values are kept for the backward: G ends as
    ĩ_t, log f_t + m_{t-1} (-inf where the memory was empty), f̃_t, o_t; ``bufs`` receives ``Y``
    (h_t), ``M`` (m_t), ``E`` (T, N, 2, H): (i'_t, f'_t), ``Q`` (c̄_t / n̄_t) and ``ZC``
    (T + 1, N, 2, 2, H): ZC[t, :, 0] = (z_t, 1) and ZC[t, :, 1] = (c̄_{t-1}, n̄_{t-1}), so
    ZC[T, :, 1] is the final (c̄_T, n̄_T). Without ``bufs`` (inference) the scratch buffers are
    (N, ...) and reused; only Y is (T, N, H). Returns Y and (h_T, c̄_T, n̄_T, m_T) (views).
    """
    T, N, H4 = G.shape
    H = H4 // 4
    h0, c0, n0, m0 = state0
    opts = {"dtype": G.dtype, "device": G.device}
    U_t = U.t().contiguous()  # (H, 4H); MKL's per-step product is faster on this layout
    Y = torch.empty(T, N, H, **opts)
    # n̄_{t-1} = 0 (empty) is possible at t = 0 where n̄_0 has zeros, and later only if n̄_0 has
    # entries < 0 or NaN (from n̄_{t-1} >= 0 one of i', f' is 1 and n̄_t >= min(1, n̄_{t-1}) > 0)
    if G.device.type == "meta":  # no values to look at: check every step
        check_all = check = True
    else:
        check_all = not bool((n0 >= 0).all())
        check = check_all or bool((n0 == 0).any())
    if bufs is not None:
        M, Q = torch.empty(T, N, H, **opts), torch.empty(T, N, H, **opts)
        E = torch.empty(T, N, 2, H, **opts)
        ZC = torch.empty(T + 1, N, 2, 2, H, **opts)
        ZC[:T, :, 0, 1] = 1.0
        ZC[0, :, 1, 0], ZC[0, :, 1, 1] = c0, n0
        bufs.update(Y=Y, M=M, E=E, Q=Q, ZC=ZC)
    if compiled_available(G):  # the same loop in C++ (_slstm_steps.cpp)
        c_T, n_T, m_T = torch.ops.lstm_lib_slstm_steps.slstm_forward(
            G, h0, c0.contiguous(), n0.contiguous(), m0.contiguous(), U_t, Y,
            *((M, E, Q, ZC) if bufs is not None else (None,) * 4), check, check_all)
        return Y, (Y[-1], c_T, n_T, m_T)
    if bufs is not None:  # per-step views, made in a few calls rather than a dozen per step
        Ms, Qs, Es, M1s = M.unbind(0), Q.unbind(0), E.unbind(0), M.unsqueeze(2).unbind(0)
        Eis, Efs = E[:, :, :1].unbind(0), E[:, :, 1:].unbind(0)
        Zs, ZNs, CNs = ZC[:T, :, 0, 0].unbind(0), ZC[:T, :, 0].unbind(0), ZC[:, :, 1].unbind(0)
        Cs, Ns = ZC[1:, :, 1, 0].unbind(0), ZC[1:, :, 1, 1].unbind(0)
        N0 = ZC[0, :, 1, 1]
    else:  # scratch, (N, ...), reused at every step
        m_buf, q = torch.empty(N, H, **opts), torch.empty(N, H, **opts)
        e = torch.empty(N, 2, H, **opts)
        zn = torch.empty(N, 2, H, **opts)
        zn[:, 1] = 1.0
        cn = torch.stack([c0, n0], 1)  # (N, 2, H): (c̄, n̄), updated in place
        Ms, Qs, Es, M1s = [m_buf] * T, [q] * T, [e] * T, [m_buf.unsqueeze(1)] * T
        Eis, Efs = [e[:, :1]] * T, [e[:, 1:]] * T
        Zs, ZNs, CNs = [zn[:, 0]] * T, [zn] * T, [cn] * (T + 1)
        Cs, Ns = [cn[:, 0]] * T, [cn[:, 1]] * T
        N0 = cn[:, 1]
    Gs, Ys = G.unbind(0), Y.unbind(0)
    IZs = G[..., :2 * H].unflatten(-1, (2, H)).unbind(0)  # (N, 2, H): ĩ, z̃ (then log f + m)
    Is, Zr = G[..., :H].unbind(0), G[..., H:2 * H].unbind(0)
    Fr, Os = G[..., 2 * H:3 * H].unbind(0), G[..., 3 * H:].unbind(0)
    h, m = h0, m0
    for t in range(T):
        Gs[t].addmm_(h, U_t)  # (N, 4H) pre-activations (S1)
        torch.tanh(Zr[t], out=Zs[t])  # z_t
        lfm = torch._C._nn.log_sigmoid(Fr[t], out=Zr[t]).add_(m)  # log f_t + m_{t-1}
        if check:  # where n̄_{t-1} = 0 the memory is empty: start afresh
            lfm.masked_fill_((N0 if t == 0 else Ns[t - 1]) == 0, float("-inf"))
            check = check_all
        m = torch.maximum(Is[t], lfm, out=Ms[t])  # (S6)
        torch.sub(IZs[t], M1s[t], out=Es[t]).exp_()  # (S7): i', f' (N, 2, H)
        torch.mul(CNs[t], Efs[t], out=CNs[t + 1]).addcmul_(ZNs[t], Eis[t])  # (S8)
        q = torch.div(Cs[t], Ns[t], out=Qs[t])  # c̄ / n̄
        h = torch.mul(Os[t].sigmoid_(), q, out=Ys[t])  # h = o c̄ / n̄
    return Y, (h, Cs[T - 1], Ns[T - 1], m)


def run_inference(x: Tensor, state0: State, W: Tensor, U: Tensor, b_ih: Tensor | None,
                  b_hh: Tensor | None) -> tuple[Tensor, State]:
    """The forward of :class:`SLSTMFunction` with nothing saved (no gradient is needed).

    Same arguments and results as :func:`run_layer`.
    """
    H = U.size(-1)
    with torch.no_grad():
        G = fused._input_projection(x, _zf(W, H), _zf(fused._sum_bias(b_ih, b_hh), H))
        Y, state = _loop(G, state0, _zf(U, H), None)
        return Y, tuple(s.clone() for s in state)


def _recompute(x, h0, c0, n0, m0, W, U, b_ih, b_hh):
    """The layer through the generic per-step loop (autograd's graph), for
    :func:`lstm_lib.nn.fused._backward_by_loop`."""
    from lstm_lib.nn.slstm import slstm_step

    a = torch.nn.functional.linear(x, W, b_ih)
    state, outs = (h0, c0, n0, m0), []
    for a_t in a:
        state = slstm_step(a_t, *state, U, b_hh)
        outs.append(state[0])
    return (torch.stack(outs), *state)


class SLSTMFunction(torch.autograd.Function):
    """A stabilised sLSTM layer over a sequence: (S1), (S2), (S6)-(S8) forward, the BPTT of
    ``slstm_step_backward`` ((S9)-(S14)) backward.

    ``apply(x, h0, c0, n0, m0, W, U, b_ih, b_hh)``: x (T, N, D); h0, c0, n0, m0 (N, H) (c0, n0
    stabilised); W (4H, D); U (4H, H); b_ih, b_hh (4H,) or None; blocks i, f, z, o (inside,
    i, z, f, o: :func:`_zf`). Returns output (T, N, H) and h_T, c̄_T, n̄_T, m_T (N, H).
    """

    @staticmethod
    def forward(ctx, x, h0, c0, n0, m0, W, U, b_ih, b_hh):
        H = U.size(-1)
        G = fused._input_projection(x, _zf(W, H), _zf(fused._sum_bias(b_ih, b_hh), H))
        b = {}
        Y, (h, c, n, m) = _loop(G, (h0, c0, n0, m0), _zf(U, H), b)
        ctx.save_for_backward(x, h0, c0, n0, m0, W, U, b_ih, b_hh, G, b["Y"], b["M"], b["E"],
                              b["Q"], b["ZC"])
        return Y, h.clone(), c.clone(), n.clone(), m.clone()

    @staticmethod
    def backward(ctx, dY, dh_T, dc_T, dn_T, dm_T):
        (x, h0, c0, n0, m0, W, U, b_ih, b_hh, G, Y, M, E, Q, ZC) = ctx.saved_tensors
        grads = (dY, dh_T, dc_T, dn_T, dm_T)
        if fused._backward_needs_graph(grads):
            return fused._backward_by_loop(ctx, _recompute,
                                           (x, h0, c0, n0, m0, W, U, b_ih, b_hh), grads)
        T, N, H4 = G.shape
        H = H4 // 4
        track_m = G.device.type == "meta" or bool(dc_T.any() or dn_T.any() or dm_T.any())
        U_p = _zf(U, H)
        if not track_m and compiled_available(G):
            da, rec, dc0, dn0, dm0 = torch.ops.lstm_lib_slstm_steps.slstm_backward(
                G, E, Q, ZC, U_p, dY, dh_T, dc_T, dn_T)
        else:
            da, rec, dc0, dn0, dm0 = _backward_loop(G, E, Q, ZC, U_p, dY, dh_T, dc_T, dn_T,
                                                    dm_T, track_m)
        need = ctx.needs_input_grad
        TN = T * N
        da2 = da.view(TN, H4)
        dx = (da2 @ _zf(W, H)).view_as(x) if need[0] else None
        dW = _zf((x.reshape(TN, -1).t() @ da2).t(), H) if need[5] else None
        dU = _zf(fused._recurrent_grad(da, h0, Y, None), H) if need[6] else None
        db = _zf(da2.sum(0), H) if need[7] or need[8] else None
        return (dx, rec if need[1] else None, dc0 if need[2] else None,
                dn0 if need[3] else None, dm0 if need[4] else None,
                dW, dU, db if need[7] else None, db if need[8] else None)


def _backward_loop(G, E, Q, ZC, U_p, dY, dh_T, dc_T, dn_T, dm_T, track_m: bool):
    """The backward time loop of :class:`SLSTMFunction` in torch ops, (S9)-(S14).

    The saved buffers as :func:`_loop` leaves them; U_p (4H, H) in the blocks i, z, f, o;
    the incoming gradients; ``track_m``: carry dm_t (S12), (S13) (a gradient reached c̄_T, n̄_T
    or m_T). Returns da (T, N, 4H) (blocks i, z, f, o) and dL/d(h_0, c̄_0, n̄_0, m_0).
    """
    T, N, H4 = G.shape
    H = H4 // 4
    opts = {"dtype": G.dtype, "device": G.device}
    # factors that do not depend on the recurrence, for all t at once, in place
    one = G.new_ones(())
    i_s, f_s, O = E[:, :, 0], E[:, :, 1], G[..., 3 * H:]
    R = torch.empty(T, N, 2, H, **opts)  # d(c̄, n̄) / dh = o (1 / n̄, -q / n̄): (S9), (S10)
    torch.div(O, ZC[1:, :, 1, 1], out=R[:, :, 0])
    torch.mul(Q, R[:, :, 0], out=R[:, :, 1]).neg_()
    # da = (s_i, dc̄, s_f, dh) ⊙ K, blocks i, z, f, o: (S11), (S14); K = (i', i' tanh'(z̃),
    # f' (1 - f), q σ'(õ)), with 1 - f = σ(-f̃) = d log σ(f̃) / df̃
    K = torch.empty(T, N, 4, H, **opts)
    K[:, :, 0] = i_s
    torch.addcmul(one, ZC[:T, :, 0, 0], ZC[:T, :, 0, 0], value=-1, out=K[:, :, 1]).mul_(i_s)
    torch.neg(G[..., 2 * H:3 * H], out=K[:, :, 2]).sigmoid_().mul_(f_s)
    torch.addcmul(O, O, O, value=-1, out=K[:, :, 3]).mul_(Q)
    da = torch.empty_like(G)  # (T, N, 4H): i, z, f, o
    das, DAs = da.unbind(0), da.unflatten(-1, (4, H)).unbind(0)
    Rs, Ks, dYs = R.unbind(0), K.unbind(0), dY.unbind(0)
    # (z_t, c̄_{t-1}) and (1, n̄_{t-1}), each (N, 2, H)
    ZC0s, ZC1s = ZC[:T, :, :, 0].unbind(0), ZC[:T, :, :, 1].unbind(0)
    Efs = E[:, :, 1:2].unbind(0)
    # SB = (s_i, dc̄, s_f, dh, dn̄): dc̄ and dn̄ one strided pair, (s_i, dc̄, s_f, dh) lined
    # up with da's blocks, s = (s_i, s_f) = (dc̄ z + dn̄, dc̄ c̄_{t-1} + dn̄ n̄_{t-1}) (S11)
    SB = torch.empty(N, 5, H, **opts)
    DC, S, SRC, dh = SB[:, 1::3], SB[:, 0:3:2], SB[:, :4], SB[:, 3]
    dc1, dn1, dh1 = SB[:, 1:2], SB[:, 4:5], dh.unsqueeze(1)  # (N, 1, H)
    SB[:, 1], SB[:, 4] = dc_T, dn_T
    torch.add(dY[T - 1], dh_T, out=dh)
    if track_m:
        TK = (G[..., H:2 * H] >= G[..., :H]).to(G.dtype)  # take_f: log f + m_{t-1} won
        OMF = torch.sigmoid(-G[..., 2 * H:3 * H]).unbind(0)  # 1 - f
        Es, TKs = E.unbind(0), TK.unbind(0)
        K_zo = K[:, :, 1::2].unbind(0)
        dm = dm_T
    for t in range(T - 1, -1, -1):
        DC.addcmul_(Rs[t], dh1)  # (S9), (S10): total dc̄_t, dn̄_t
        # (S11): du_i / i' = dc̄ z + dn̄, du_f / f' = dc̄ c̄_{t-1} + dn̄ n̄_{t-1}
        torch.mul(ZC1s[t], dn1, out=S).addcmul_(ZC0s[t], dc1)
        if track_m:  # (S12), (S13): dm_t and the max of (S6)
            du_i, du_f = S[:, 0] * Es[t][:, 0], S[:, 1] * Es[t][:, 1]
            dm = dm - du_i - du_f
            routed = dm * TKs[t]
            d_log_f = du_f + routed
            DA = DAs[t]
            torch.add(du_i, dm - routed, out=DA[:, 0])
            torch.mul(d_log_f, OMF[t], out=DA[:, 2])
            torch.mul(SB[:, 1:4:2], K_zo[t], out=DA[:, 1::2])
            dm = d_log_f  # dL/dm_{t-1} from this step
        else:  # dm_t = 0: da_i = du_i, da_f = du_f (1 - f)
            torch.mul(SRC, Ks[t], out=DAs[t])
        DC.mul_(Efs[t])  # dc̄_{t-1}, dn̄_{t-1} = f' (dc̄_t, dn̄_t)
        rec = torch.mm(das[t], U_p)  # dh_{t-1} = U^T da_t, in rows
        if t > 0:
            torch.add(rec, dYs[t - 1], out=dh)
    dm0 = dm if track_m else S[:, 1] * E[0, :, 1]  # else dL/dm_0 = du_f at t = 0
    return da, rec, SB[:, 1].clone(), SB[:, 4].clone(), dm0
