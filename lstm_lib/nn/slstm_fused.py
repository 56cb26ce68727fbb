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
"""

from __future__ import annotations

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


def _loop(G: Tensor, state0: State, U: Tensor, bufs: dict | None):
    """The forward time loop, (S1), (S2), (S6)-(S8), in place on ``G`` (T, N, 4H) = W x_t + b.

    With ``bufs`` (training) every step's values are kept for the backward: G's blocks end as
    ĩ_t, log f_t + m_{t-1} (-inf where the memory was empty), z̃_t, o_t; ``bufs`` receives
    ``Y`` (h_t), ``M`` (m_t), ``LF`` (log f_t), ``E`` (T, N, 2, H): (i'_t, f'_t),
    ``Q`` (c̄_t / n̄_t) and ``ZC`` (T + 1, N, 2, 2, H): ZC[t, :, 0] = (1, z_t) and
    ZC[t, :, 1] = (n̄_{t-1}, c̄_{t-1}), so ZC[T, :, 1] is the final (n̄_T, c̄_T). Without
    ``bufs`` (inference) the scratch buffers are (N, ...) and reused; only Y is (T, N, H).
    Returns Y and the final (h_T, c̄_T, n̄_T, m_T) (views of buffers).
    """
    T, N, H4 = G.shape
    H = H4 // 4
    h0, c0, n0, m0 = state0
    opts = {"dtype": G.dtype, "device": G.device}
    U_t = U.t()
    Y = torch.empty(T, N, H, **opts)
    if bufs is not None:
        LF, M, Q = (torch.empty(T, N, H, **opts) for _ in range(3))
        E = torch.empty(T, N, 2, H, **opts)
        ZC = torch.empty(T + 1, N, 2, 2, H, **opts)
        ZC[:T, :, 0, 0] = 1.0
        ZC[0, :, 1, 0], ZC[0, :, 1, 1] = n0, c0
        bufs.update(Y=Y, M=M, LF=LF, E=E, Q=Q, ZC=ZC)
        # per-step views, made in a few calls rather than a dozen per step
        LFs, Ms, Qs, Es = LF.unbind(0), M.unbind(0), Q.unbind(0), E.unbind(0)
        M1s = M.unsqueeze(2).unbind(0)  # (N, 1, H)
        Eis, Efs = E[:, :, :1].unbind(0), E[:, :, 1:].unbind(0)
        Zs, ZNs, CNs = ZC[:T, :, 0, 1].unbind(0), ZC[:T, :, 0].unbind(0), ZC[:, :, 1].unbind(0)
        Ns, Cs = ZC[1:, :, 1, 0].unbind(0), ZC[1:, :, 1, 1].unbind(0)
        N0 = ZC[0, :, 1, 0]
    else:  # scratch, (N, ...), reused at every step
        lf, m_buf, q = (torch.empty(N, H, **opts) for _ in range(3))
        e = torch.empty(N, 2, H, **opts)
        zn = torch.empty(N, 2, H, **opts)
        zn[:, 0] = 1.0
        cn = torch.stack([n0, c0], 1)  # (N, 2, H): (n̄, c̄), updated in place
        LFs, Ms, Qs, Es, M1s = [lf] * T, [m_buf] * T, [q] * T, [e] * T, [m_buf.unsqueeze(1)] * T
        Eis, Efs = [e[:, :1]] * T, [e[:, 1:]] * T
        Zs, ZNs, CNs = [zn[:, 1]] * T, [zn] * T, [cn] * (T + 1)
        Ns, Cs = [cn[:, 0]] * T, [cn[:, 1]] * T
        N0 = cn[:, 0]
    Gs, Ys = G.unbind(0), Y.unbind(0)
    IFs = G[..., :2 * H].unflatten(-1, (2, H)).unbind(0)  # (N, 2, H): ĩ, then log f + m_{t-1}
    Is, Fs = G[..., :H].unbind(0), G[..., H:2 * H].unbind(0)
    Zr, Os = G[..., 2 * H:3 * H].unbind(0), G[..., 3 * H:].unbind(0)
    # n̄_{t-1} = 0 (empty) is possible at t = 0 where n̄_0 has zeros, and later only if n̄_0 has
    # entries < 0 or NaN (from n̄_{t-1} >= 0 one of i', f' is 1 and n̄_t >= min(1, n̄_{t-1}) > 0)
    check_all = not bool((n0 >= 0).all())
    check = check_all or bool((n0 == 0).any())
    h, m = h0, m0
    for t in range(T):
        Gs[t].addmm_(h, U_t)  # (N, 4H) pre-activations (S1)
        lfm = torch.add(torch._C._nn.log_sigmoid(Fs[t], out=LFs[t]), m, out=Fs[t])
        if check:  # where n̄_{t-1} = 0 the memory is empty: start afresh
            lfm.masked_fill_((N0 if t == 0 else Ns[t - 1]) == 0, float("-inf"))
            check = check_all
        m = torch.maximum(Is[t], lfm, out=Ms[t])  # (S6)
        torch.sub(IFs[t], M1s[t], out=Es[t]).exp_()  # (S7): i', f' (N, 2, H)
        torch.tanh(Zr[t], out=Zs[t])  # z_t
        # (S8): (n̄, c̄) = f' (n̄_{t-1}, c̄_{t-1}) + i' (1, z)
        torch.mul(CNs[t], Efs[t], out=CNs[t + 1]).addcmul_(ZNs[t], Eis[t])
        h = torch.mul(Os[t].sigmoid_(), torch.div(Cs[t], Ns[t], out=Qs[t]), out=Ys[t])
    return Y, (h, Cs[T - 1], Ns[T - 1], m)


def run_inference(x: Tensor, state0: State, W: Tensor, U: Tensor, b_ih: Tensor | None,
                  b_hh: Tensor | None) -> tuple[Tensor, State]:
    """The forward of :class:`SLSTMFunction` with nothing saved (no gradient is needed).

    Same arguments and results as :func:`run_layer`.
    """
    with torch.no_grad():
        G = fused._input_projection(x, W, fused._sum_bias(b_ih, b_hh))  # (T, N, 4H)
        Y, state = _loop(G, state0, U, None)
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
    stabilised); W (4H, D); U (4H, H); b_ih, b_hh (4H,) or None; blocks i, f, z, o.
    Returns output (T, N, H) and h_T, c̄_T, n̄_T, m_T (N, H).
    """

    @staticmethod
    def forward(ctx, x, h0, c0, n0, m0, W, U, b_ih, b_hh):
        G = fused._input_projection(x, W, fused._sum_bias(b_ih, b_hh))  # (T, N, 4H)
        b = {}
        Y, (h, c, n, m) = _loop(G, (h0, c0, n0, m0), U, b)
        ctx.save_for_backward(x, h0, c0, n0, m0, W, U, b_ih, b_hh, G, b["Y"], b["M"], b["LF"],
                              b["E"], b["Q"], b["ZC"])
        return Y, h.clone(), c.clone(), n.clone(), m.clone()

    @staticmethod
    def backward(ctx, dY, dh_T, dc_T, dn_T, dm_T):
        (x, h0, c0, n0, m0, W, U, b_ih, b_hh, G, Y, M, LF, E, Q, ZC) = ctx.saved_tensors
        grads = (dY, dh_T, dc_T, dn_T, dm_T)
        if fused._backward_needs_graph(grads):
            return fused._backward_by_loop(ctx, _recompute,
                                           (x, h0, c0, n0, m0, W, U, b_ih, b_hh), grads)
        T, N, H4 = G.shape
        H = H4 // 4
        # factors that do not depend on the recurrence, for all t at once
        inv_n = ZC[1:, :, 1, 0].reciprocal()  # 1 / n̄_t
        R = torch.stack([-Q * inv_n, inv_n], 2)  # (T, N, 2, H): d(n̄, c̄) / d(o ⊙ q): (S9), (S10)
        one_minus_f = torch.expm1(LF).neg_()  # 1 - f = σ(-f̃) = d log σ(f̃) / df̃
        K_if = E.clone()  # (T, N, 2, H): i', f' (1 - f): (S11), (S14)
        K_if[:, :, 1].mul_(one_minus_f)
        O = G[..., 3 * H:]
        z = ZC[:T, :, 0, 1]
        K_zo = torch.stack([E[:, :, 0] * (1 - z * z),  # i' tanh'(z̃)
                            Q * O * (1 - O)], 2)  # q σ'(õ)
        track_m = bool(dc_T.any() or dn_T.any() or dm_T.any())
        da = torch.empty_like(G)  # (T, N, 4H): i, f, z, o
        das = da.unbind(0)
        da_if = da[..., :2 * H].unflatten(-1, (2, H)).unbind(0)  # (N, 2, H)
        da_zo = da[..., 2 * H:].unflatten(-1, (2, H)).unbind(0)
        Os, Rs, ZCs, Ks_if, Ks_zo, Es = (O.unbind(0), R.unbind(0), ZC.unbind(0), K_if.unbind(0),
                                         K_zo.unbind(0), E.unbind(0))
        dYs = dY.unbind(0)
        B = torch.stack([dn_T, dc_T, dY[T - 1] + dh_T], 1)  # (N, 3, H): dn̄, dc̄, dh
        B_nc, B_ch, dh = B[:, :2], B[:, 1:], B[:, 2]
        s = torch.empty(N, 2, H, dtype=G.dtype, device=G.device)
        if track_m:
            TK = (G[..., H:2 * H] >= G[..., :H]).to(G.dtype)  # take_f: log f + m_{t-1} won
            TKs = TK.unbind(0)
            dm = dm_T
        dm0 = None
        for t in range(T - 1, -1, -1):
            dq = dh * Os[t]  # dL/dq, h = o q
            B_nc.addcmul_(Rs[t], dq.unsqueeze(1))  # (S9), (S10): total dn̄_t, dc̄_t
            # (dn̄ + dc̄ z, dn̄ n̄_{t-1} + dc̄ c̄_{t-1}): du_i / i', du_f / f' of (S11)
            torch.sum(B_nc.unsqueeze(1) * ZCs[t], 2, out=s)
            if track_m:  # (S12), (S13): dm_t and the max of (S6)
                du = s * Es[t]
                du_i, du_f = du[:, 0], du[:, 1]
                dm = dm - du_i - du_f
                routed = dm * TKs[t]
                d_log_f = du_f + routed
                torch.add(du_i, dm - routed, out=da_if[t][:, 0])
                torch.mul(d_log_f, one_minus_f[t], out=da_if[t][:, 1])
                dm = d_log_f  # dL/dm_{t-1} from this step
            else:  # dm_t = 0: da_i = du_i, da_f = du_f (1 - f)
                if t == 0:
                    dm0 = s[:, 1] * Es[0][:, 1]  # dL/dm_0 = du_f
                torch.mul(s, Ks_if[t], out=da_if[t])
            torch.mul(B_ch, Ks_zo[t], out=da_zo[t])  # (S14): da_z = dc̄ i' tanh', da_o = dh q σ'
            B_nc.mul_(Es[t][:, 1:])  # dn̄_{t-1}, dc̄_{t-1} = f' (dn̄_t, dc̄_t)
            rec = torch.mm(das[t], U)  # dh_{t-1} = U^T da_t, in rows
            if t > 0:
                torch.add(rec, dYs[t - 1], out=dh)
        if track_m:
            dm0 = dm
        need = ctx.needs_input_grad
        T_N = T * N
        da2 = da.view(T_N, H4)
        dx = (da2 @ W).view_as(x) if need[0] else None
        dW = (x.reshape(T_N, -1).t() @ da2).t() if need[5] else None
        dU = fused._recurrent_grad(da, h0, Y, None) if need[6] else None
        db = da2.sum(0) if need[7] or need[8] else None
        return (dx, rec if need[1] else None, B[:, 1].clone() if need[2] else None,
                B[:, 0].clone() if need[3] else None, dm0 if need[4] else None,
                dW, dU, db if need[7] else None, db if need[8] else None)

