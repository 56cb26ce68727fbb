// The time loops of lstm_lib/nn/slstm_fused.py's SLSTMFunction, in C++.
//
// Built on first use by lstm_lib/nn/slstm_fused.py (torch.utils.cpp_extension, with the flags of
// lstm_lib/nn/compiled.py); without a compiler the Python loops run instead. Same equations,
// same buffers, same results to rounding (tests/test_nn_slstm.py). Per step: one matrix product
// (ATen's, BLAS) and ONE pass over the (N, 4H) gates doing all the element-wise arithmetic,
// instead of a dozen torch ops dispatched from Python:
//   forward  (S1), (S2), (S6)-(S8): z, log f + m_{t-1}, m_t, i', f', c̄_t, n̄_t, o_t, h_t;
//   backward (S9)-(S11), (S14) with dm_t = 0 (no gradient on c̄_T, n̄_T, m_T; otherwise the
//   Python loop, which carries dm_t), then one product with U.
// float32 and float64 on the CPU only (the Python side checks).
//
// Layout (see slstm_fused._loop): G (T, N, 4H) blocks i, z, f, o, holding W x_t + b on entry and
// ĩ, log f + m_{t-1} (-inf where the memory was empty), f̃, o on return; E (T, N, 2, H): i', f';
// ZC (T + 1, N, 2, 2, H): ZC[t, :, 0] = (z_t, 1), ZC[t, :, 1] = (c̄_{t-1}, n̄_{t-1}).

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>

#if defined(LSTM_LIB_MVEC)
// glibc's vector variants (libmvec), so that the loops below vectorise
extern "C" {
__attribute__((simd("notinbranch"))) float expf(float) noexcept;
__attribute__((simd("notinbranch"))) float tanhf(float) noexcept;
__attribute__((simd("notinbranch"))) float log1pf(float) noexcept;
__attribute__((simd("notinbranch"))) double exp(double) noexcept;
__attribute__((simd("notinbranch"))) double tanh(double) noexcept;
__attribute__((simd("notinbranch"))) double log1p(double) noexcept;
}
#endif

namespace {

using at::Tensor;

inline float exp_(float x) { return expf(x); }
inline double exp_(double x) { return exp(x); }
inline float tanh_(float x) { return tanhf(x); }
inline double tanh_(double x) { return tanh(x); }
inline float log1p_(float x) { return log1pf(x); }
inline double log1p_(double x) { return log1p(x); }
template <typename T>
inline T sigmoid_(T x) { return T(1) / (T(1) + exp_(-x)); }
template <typename T>  // log σ(x) = min(x, 0) - log1p(exp(-|x|)), as torch's log_sigmoid
inline T log_sigmoid_(T x) { return (x < T(0) ? x : T(0)) - log1p_(exp_(x < T(0) ? x : -x)); }

// rows n of the batch in parallel (torch's intra-op threads) only when a step has enough work
inline int64_t grain(int64_t H) { return std::max<int64_t>(1, 8192 / H); }

// An (N, H) matrix inside a bigger buffer: element (n, j) at p[n * rs + j].
template <typename T>
struct Rows {
  T* p;
  int64_t rs;
  T* row(int64_t n) const { return p + n * rs; }
};

template <typename T>
Rows<T> rows(const Tensor& t) {  // t: (N, H) with unit stride along H
  return {t.data_ptr<T>(), t.stride(0)};
}

// One forward step, in place on the gate row g; prev and out may alias (inference).
template <typename T, bool save>
void forward_step(Rows<T> g, Rows<T> cp, Rows<T> np, Rows<T> mp, Rows<T> co, Rows<T> no,
                  Rows<T> mo, Rows<T> y, Rows<T> e, Rows<T> q, Rows<T> z, bool check,
                  int64_t N, int64_t H) {
  const T neg_inf = -std::numeric_limits<T>::infinity();
  at::parallel_for(0, N, grain(H), [&](int64_t n_begin, int64_t n_end) {
  for (int64_t n = n_begin; n < n_end; ++n) {
    T* gi = g.row(n);
    T* gz = gi + H;
    T* gf = gi + 2 * H;
    T* go = gi + 3 * H;
    const T *cpn = cp.row(n), *npn = np.row(n), *mpn = mp.row(n);
    T *con = co.row(n), *non = no.row(n), *mon = mo.row(n), *yn = y.row(n);
    T *ei = save ? e.row(n) : nullptr, *qn = save ? q.row(n) : nullptr;
    T* zn = save ? z.row(n) : nullptr;
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) {
      const T a_i = gi[j], zj = tanh_(gz[j]);
      T lfm = log_sigmoid_(gf[j]) + mpn[j];                    // log f_t + m_{t-1}
      if (check && npn[j] == T(0)) lfm = neg_inf;              // empty memory: start afresh
      const T m = a_i > lfm ? a_i : lfm;                       // (S6)
      const T i_s = exp_(a_i - m), f_s = exp_(lfm - m);        // (S7)
      const T c = f_s * cpn[j] + i_s * zj;                     // (S8)
      const T nn = f_s * npn[j] + i_s;
      const T o = sigmoid_(go[j]);
      const T qj = c / nn;
      yn[j] = o * qj;                                          // h_t = o c̄ / n̄
      con[j] = c;
      non[j] = nn;
      mon[j] = m;
      if constexpr (save) {
        gz[j] = lfm;
        go[j] = o;
        ei[j] = i_s;
        ei[j + H] = f_s;
        qn[j] = qj;
        zn[j] = zj;
      }
    }
  }
  });
}

template <typename T>
std::tuple<Tensor, Tensor, Tensor> forward_loop(Tensor G, const Tensor& h0, const Tensor& c0,
                                                const Tensor& n0, const Tensor& m0,
                                                const Tensor& U_t, const Tensor& Y,
                                                const c10::optional<Tensor>& M_,
                                                const c10::optional<Tensor>& E_,
                                                const c10::optional<Tensor>& Q_,
                                                const c10::optional<Tensor>& ZC_,
                                                bool check_first, bool check_all) {
  const int64_t T_ = G.size(0), N = G.size(1), H = G.size(2) / 4;
  const bool save = ZC_.has_value();
  Tensor h = h0;
  TORCH_CHECK(!save || (M_->is_contiguous() && E_->is_contiguous() && Q_->is_contiguous() &&
                        ZC_->is_contiguous() && G.is_contiguous()),
              "slstm_forward: contiguous buffers");
  if (save) {  // the buffers are contiguous (slstm_fused._loop made them): plain offsets
    T* const m_ = M_->data_ptr<T>();
    T* const e_ = E_->data_ptr<T>();
    T* const q_ = Q_->data_ptr<T>();
    T* const zc_ = ZC_->data_ptr<T>();
    T* const y_ = Y.data_ptr<T>();
    const int64_t NH = N * H, NH4 = 4 * N * H;
    for (int64_t t = 0; t < T_; ++t) {
      G.select(0, t).addmm_(h, U_t);
      T* zc = zc_ + t * NH4;  // rows of 4H: z, 1, c̄_{t-1}, n̄_{t-1}
      T* zc1 = zc + NH4;      // ... and c̄_t, n̄_t at step t + 1
      Rows<T> mp = t == 0 ? rows<T>(m0) : Rows<T>{m_ + (t - 1) * NH, H};
      forward_step<T, true>(Rows<T>{G.data_ptr<T>() + t * NH4, 4 * H},
                            Rows<T>{zc + 2 * H, 4 * H}, Rows<T>{zc + 3 * H, 4 * H}, mp,
                            Rows<T>{zc1 + 2 * H, 4 * H}, Rows<T>{zc1 + 3 * H, 4 * H},
                            Rows<T>{m_ + t * NH, H}, Rows<T>{y_ + t * NH, H},
                            Rows<T>{e_ + 2 * t * NH, 2 * H}, Rows<T>{q_ + t * NH, H},
                            Rows<T>{zc, 4 * H}, check_all || (t == 0 && check_first), N, H);
      h = Y.select(0, t);
    }
    Tensor cn = ZC_->select(0, T_).select(1, 1);  // (N, 2, H): c̄_T, n̄_T
    return {cn.select(1, 0).clone(), cn.select(1, 1).clone(), M_->select(0, T_ - 1).clone()};
  }
  Tensor c = c0.contiguous().clone(), n = n0.contiguous().clone(), m = m0.contiguous().clone();
  Rows<T> none{nullptr, 0};
  for (int64_t t = 0; t < T_; ++t) {
    Tensor g = G.select(0, t);
    g.addmm_(h, U_t);
    forward_step<T, false>(rows<T>(g), rows<T>(c), rows<T>(n), rows<T>(m), rows<T>(c),
                           rows<T>(n), rows<T>(m), rows<T>(Y.select(0, t)), none, none, none,
                           check_all || (t == 0 && check_first), N, H);
    h = Y.select(0, t);
  }
  return {c, n, m};
}

// One backward step with dm_t = 0: da_t from dh (total), and (dc̄, dn̄) carried in place.
template <typename T>
void backward_step(Rows<T> g, Rows<T> e, Rows<T> q, Rows<T> zc, Rows<T> zc1, Rows<T> dh,
                   T* dc, T* dn, Rows<T> da, T* dm0, int64_t N, int64_t H) {
  at::parallel_for(0, N, grain(H), [&](int64_t n_begin, int64_t n_end) {
  for (int64_t n = n_begin; n < n_end; ++n) {
    const T* gi = g.row(n);
    const T* gf = gi + 2 * H;
    const T* go = gi + 3 * H;
    const T *en = e.row(n), *qn = q.row(n), *zcn = zc.row(n), *zc1n = zc1.row(n);
    const T* dhn = dh.row(n);
    T *dcn = dc + n * H, *dnn = dn + n * H, *dan = da.row(n);
    T* dm0n = dm0 != nullptr ? dm0 + n * H : nullptr;
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) {
      const T o = go[j], nt = zc1n[3 * H + j], qj = qn[j], d_h = dhn[j];
      const T r0 = o / nt;                                     // d(c̄, n̄)/dh: (S9), (S10)
      const T dcj = dcn[j] + r0 * d_h, dnj = dnn[j] + (-(qj * r0)) * d_h;
      const T z = zcn[j], c_prev = zcn[2 * H + j], n_prev = zcn[3 * H + j];
      const T s_i = dnj + z * dcj, s_f = n_prev * dnj + c_prev * dcj;  // (S11)
      const T i_s = en[j], f_s = en[H + j];
      dan[j] = s_i * i_s;                                      // (S14), blocks i, z, f, o
      dan[H + j] = dcj * ((T(1) - z * z) * i_s);
      dan[2 * H + j] = s_f * (sigmoid_(-gf[j]) * f_s);
      dan[3 * H + j] = d_h * ((o - o * o) * qj);
      if (dm0n != nullptr) dm0n[j] = s_f * f_s;               // dL/dm_0 = du_f at t = 0
      dcn[j] = dcj * f_s;                                      // dc̄_{t-1}, dn̄_{t-1}
      dnn[j] = dnj * f_s;
    }
  }
  });
}

template <typename T>
std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor> backward_loop(
    const Tensor& G, const Tensor& E, const Tensor& Q, const Tensor& ZC, const Tensor& U_p,
    const Tensor& dY, const Tensor& dh_T, const Tensor& dc_T, const Tensor& dn_T) {
  const int64_t T_ = G.size(0), N = G.size(1), H = G.size(2) / 4;
  TORCH_CHECK(G.is_contiguous() && E.is_contiguous() && Q.is_contiguous() && ZC.is_contiguous(),
              "slstm_backward: contiguous buffers");
  Tensor da = at::empty_like(G);
  Tensor dc = dc_T.contiguous().clone(), dn = dn_T.contiguous().clone();
  Tensor dm0 = at::empty_like(dc);
  Tensor dh = dY.select(0, T_ - 1) + dh_T;
  const T* g_ = G.data_ptr<T>();
  const T* e_ = E.data_ptr<T>();
  const T* q_ = Q.data_ptr<T>();
  const T* zc_ = ZC.data_ptr<T>();
  T* da_ = da.data_ptr<T>();
  const int64_t NH = N * H, NH4 = 4 * N * H;
  for (int64_t t = T_ - 1; t >= 0; --t) {
    const T* zc = zc_ + t * NH4;
    backward_step<T>(Rows<T>{const_cast<T*>(g_) + t * NH4, 4 * H},
                     Rows<T>{const_cast<T*>(e_) + 2 * t * NH, 2 * H},
                     Rows<T>{const_cast<T*>(q_) + t * NH, H}, Rows<T>{const_cast<T*>(zc), 4 * H},
                     Rows<T>{const_cast<T*>(zc) + NH4, 4 * H}, rows<T>(dh), dc.data_ptr<T>(),
                     dn.data_ptr<T>(), Rows<T>{da_ + t * NH4, 4 * H},
                     t == 0 ? dm0.data_ptr<T>() : nullptr, N, H);
    Tensor rec = at::mm(da.select(0, t), U_p);              // dh_{t-1} = U^T da_t, in rows
    dh = t > 0 ? rec.add_(dY.select(0, t - 1)) : rec;
  }
  return {da, dh, dc, dn, dm0};
}

std::tuple<Tensor, Tensor, Tensor> slstm_forward(
    Tensor G, const Tensor& h0, const Tensor& c0, const Tensor& n0, const Tensor& m0,
    const Tensor& U_t, const Tensor& Y, const c10::optional<Tensor>& M,
    const c10::optional<Tensor>& E, const c10::optional<Tensor>& Q,
    const c10::optional<Tensor>& ZC, bool check_first, bool check_all) {
  TORCH_CHECK(G.is_contiguous() && Y.is_contiguous(), "slstm_forward: contiguous G, Y");
  if (G.scalar_type() == at::kFloat)
    return forward_loop<float>(G, h0, c0, n0, m0, U_t, Y, M, E, Q, ZC, check_first, check_all);
  TORCH_CHECK(G.scalar_type() == at::kDouble, "slstm_forward: float32 or float64");
  return forward_loop<double>(G, h0, c0, n0, m0, U_t, Y, M, E, Q, ZC, check_first, check_all);
}

std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor> slstm_backward(
    const Tensor& G, const Tensor& E, const Tensor& Q, const Tensor& ZC, const Tensor& U_p,
    const Tensor& dY, const Tensor& dh_T, const Tensor& dc_T, const Tensor& dn_T) {
  if (G.scalar_type() == at::kFloat)
    return backward_loop<float>(G, E, Q, ZC, U_p, dY.contiguous(), dh_T, dc_T, dn_T);
  TORCH_CHECK(G.scalar_type() == at::kDouble, "slstm_backward: float32 or float64");
  return backward_loop<double>(G, E, Q, ZC, U_p, dY.contiguous(), dh_T, dc_T, dn_T);
}

}  // namespace

TORCH_LIBRARY(lstm_lib_slstm_steps, m) {
  m.def("slstm_forward(Tensor(a!) G, Tensor h0, Tensor c0, Tensor n0, Tensor m0, Tensor U_t, "
        "Tensor(b!) Y, Tensor(c!)? M, Tensor(d!)? E, Tensor(e!)? Q, Tensor(f!)? ZC, "
        "bool check_first, bool check_all) -> (Tensor, Tensor, Tensor)",
        &slstm_forward);
  m.def("slstm_backward(Tensor G, Tensor E, Tensor Q, Tensor ZC, Tensor U_p, Tensor dY, "
        "Tensor dh_T, Tensor dc_T, Tensor dn_T) -> (Tensor, Tensor, Tensor, Tensor, Tensor)",
        &slstm_backward);
}
