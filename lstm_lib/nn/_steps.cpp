// The time loops of lstm_lib/nn/fused.py's LSTMFunction, in C++.
//
// Built on first use by lstm_lib/nn/compiled.py (torch.utils.cpp_extension); without a compiler
// the Python loops in fused.py (_lstm_forward_loop, _lstm_backward_loop) run instead. Same
// equations, same layout, same results to rounding (tests/test_nn_compiled.py). What changes is
// the cost per time step: at small sizes (H = 32: 64 x 128 gate pre-activations per step) the
// Python loops spend most of their time dispatching ~20 small torch ops per step, each a pass
// over memory. Here, per step, one matrix product (ATen's, BLAS) and then ONE pass over the
// (N, gH) gates that does all the element-wise arithmetic of the step:
//   forward  (L1)-(L6): the nonlinearities, c_t, tanh(c_t), h_t;
//   backward (L7)-(L9): da_t for every block and dL/dc_{t-1}, then (L10) one product with U.
// The element loops are plain C++ that the compiler vectorises (with glibc's vector exp/tanh,
// libmvec, where it has them); float32 and float64 on the CPU. Other dtypes take the same steps
// as a sequence of ATen calls (the Python loops' calls, in C++).
//
// Layout as in fused.py: gate blocks with o moved to the front, o, (i,) f, g (nd = 3, or 2 for
// the CIFG); G (T, N, gH) holds W x_t + b on entry and the gate activations on return.
// flags: 1 CIFG (C1), 2 peepholes (P1)-(P3), 4 NIAF (g_t = a_g), 8 NOAF (h_t = o_t ⊙ c_t),
// 16 FGR (Greff's full gate recurrence: the pre-activations of o, i, f receive R q_{t-1}, with
// q_t = [o_t; i_t; f_t] (N, 3H), the first 3H columns of G[t]; R and q in blocks o, i, f too).
// For FGR the raw path makes one product per step of [h_{t-1}, q_{t-1}] (N, 4H) with the
// combined weight [U^T; R^T 0] (4H, gH), and in the backward one of da_t with [U | R 0]
// (gH, 4H), which gives dh_{t-1} and dq_{t-1} = R^T da_{s,t} together: at small H a call costs
// more than its arithmetic. From H = kFGRSplit on, the zero block (3H² of 16H² per row) is real
// work, and two products (U, then R on the o, i, f columns) are faster.

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>
#include <type_traits>

#if defined(LSTM_LIB_MVEC)
// glibc's vector variants (libmvec): declaring them lets the loops below call exp/tanh on 4 or 8
// numbers at once. The build adds -DLSTM_LIB_MVEC only where libmvec is found.
extern "C" {
__attribute__((simd("notinbranch"))) float expf(float) noexcept;
__attribute__((simd("notinbranch"))) float tanhf(float) noexcept;
__attribute__((simd("notinbranch"))) double exp(double) noexcept;
__attribute__((simd("notinbranch"))) double tanh(double) noexcept;
}
#endif

namespace {

using at::Tensor;

constexpr int64_t kCIFG = 1, kPeep = 2, kNIAF = 4, kNOAF = 8, kFGR = 16;
constexpr int64_t kFGRSplit = 64;

// ---- float32 / float64 on the CPU: one vectorised pass per step ---------------------------
// The per-step matrix products call BLAS (the Fortran interface that the BLAS torch links, MKL or
// OpenBLAS, exports) on raw pointers: at H = 32 the ATen call around the same product costs as
// much as the product. Declared weak: where no such symbol is found, ATen's product serves.
extern "C" {
void sgemm_(const char*, const char*, const int*, const int*, const int*, const float*,
            const float*, const int*, const float*, const int*, const float*, float*,
            const int*) __attribute__((weak));
void dgemm_(const char*, const char*, const int*, const int*, const int*, const double*,
            const double*, const int*, const double*, const int*, const double*, double*,
            const int*) __attribute__((weak));
}

template <typename T>
bool have_blas() {
  if constexpr (std::is_same_v<T, float>) {
    return sgemm_ != nullptr;
  } else {
    return dgemm_ != nullptr;
  }
}

// BLAS takes 32-bit sizes: the raw path only where every size fits (else ATen's product serves)
template <typename T>
bool blas_fits(int64_t N, int64_t H, int64_t gH) {
  const int64_t limit = std::numeric_limits<int>::max();
  return have_blas<T>() && N <= limit && H <= limit && gH <= limit;
}

// column-major C (m x n) = alpha op(A) op(B) + beta C, as BLAS defines it
template <typename T>
void blas_gemm(char ta, char tb, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda,
               const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  const int im = m, in = n, ik = k, ilda = lda, ildb = ldb, ildc = ldc;
  const T one = 1;
  if constexpr (std::is_same_v<T, float>) {
    sgemm_(&ta, &tb, &im, &in, &ik, &one, a, &ilda, b, &ildb, &beta, c, &ildc);
  } else {
    dgemm_(&ta, &tb, &im, &in, &ik, &one, a, &ilda, b, &ildb, &beta, c, &ildc);
  }
}

// row-major G_t (N, gH) += h (N, H) U^T with U (gH, H) row-major: column-major, that is
// G_t^T (gH, N) += U (gH, H) h^T (H, N), and U stored row-major is U^T column-major
template <typename T>
void step_product(const T* U, const T* h, T* g, int64_t N, int64_t H, int64_t gH) {
  blas_gemm<T>('T', 'N', gH, N, H, U, H, h, H, T(1), g, gH);
}

// row-major out (N, H) = da (N, gH) U (gH, H) (+ out if beta = 1): column-major
// out^T (H, N) = U^T (H, gH) da^T (gH, N)
template <typename T>
void step_product_back(const T* U, const T* da, T* out, int64_t N, int64_t H, int64_t gH,
                       T beta) {
  blas_gemm<T>('N', 'N', H, N, gH, U, H, da, gH, beta, out, H);
}

inline float exp_(float x) { return expf(x); }
inline double exp_(double x) { return exp(x); }
inline float tanh_(float x) { return tanhf(x); }
inline double tanh_(double x) { return tanh(x); }
template <typename T>
inline T sigmoid_(T x) { return T(1) / (T(1) + exp_(-x)); }  // σ(±inf) = 1, 0 exactly

// rows n of the batch in parallel only when a step has enough work (torch's intra-op threads)
inline int64_t grain(int64_t N, int64_t gH) { return std::max<int64_t>(1, 32768 / gH); }

// the flags as compile-time constants: each variant's loop has no branches left in it
template <typename Fn>
void with_flags(int64_t flags, Fn&& fn) {
  switch (flags) {
    case 0: return fn(std::integral_constant<int, 0>{});
    case kCIFG: return fn(std::integral_constant<int, kCIFG>{});
    case kPeep: return fn(std::integral_constant<int, kPeep>{});
    case kNIAF: return fn(std::integral_constant<int, kNIAF>{});
    case kNOAF: return fn(std::integral_constant<int, kNOAF>{});
    case kPeep | kNIAF: return fn(std::integral_constant<int, kPeep | kNIAF>{});
    case kPeep | kNOAF: return fn(std::integral_constant<int, kPeep | kNOAF>{});
    case kFGR: return fn(std::integral_constant<int, kFGR>{});
    case kPeep | kFGR: return fn(std::integral_constant<int, kPeep | kFGR>{});
    default: TORCH_CHECK(false, "lstm_lib_steps: unsupported flags ", flags);
  }
}

// z (FGR only): the next product's left operand [h_t (masked), o_t, i_t, f_t], rows of 4H
template <typename T, int F>
void forward_step(T* g, const T* c_prev, T* c, T* tc, T* h, T* h_in, const T* mask,
                  const T* p_i, const T* p_f, const T* p_o, T* z, int64_t N, int64_t H) {
  constexpr bool cifg = F & kCIFG, peep = F & kPeep, niaf = F & kNIAF, noaf = F & kNOAF,
                 fgr = F & kFGR;
  const int64_t gH = (cifg ? 3 : 4) * H;
  at::parallel_for(0, N, grain(N, gH), [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      T* ao = g + n * gH;  // o, (i,) f, g blocks of this row
      T* ai = ao + H;
      T* af = ao + gH - 2 * H;
      T* ag = ao + gH - H;
      const T* cp = c_prev + n * H;
      T *cn = c + n * H, *tcn = tc + n * H, *hn = h + n * H;
      T* zn = fgr ? z + n * 4 * H : nullptr;
#pragma omp simd
      for (int64_t j = 0; j < H; ++j) {
        const T cpj = cp[j];
        T a_f = af[j], a_o = ao[j], cj, t, i = T(0);
        if constexpr (peep) a_f += p_f[j] * cpj;                            // (P2)
        const T f = sigmoid_(a_f);                                          // (L2)
        T gg = ag[j];
        if constexpr (!niaf) gg = tanh_(gg);                                // (L3)
        if constexpr (cifg) {
          cj = gg + f * (cpj - gg);                                         // (C1)
        } else {
          T a_i = ai[j];
          if constexpr (peep) a_i += p_i[j] * cpj;                          // (P1)
          i = sigmoid_(a_i);                                                // (L1)
          cj = f * cpj + i * gg;                                            // (L5)
          ai[j] = i;
        }
        if constexpr (peep) a_o += p_o[j] * cj;                             // (P3)
        const T o = sigmoid_(a_o);                                          // (L4)
        if constexpr (noaf) {
          t = cj;
        } else {
          t = tanh_(cj);
        }
        af[j] = f;
        ag[j] = gg;
        ao[j] = o;
        cn[j] = cj;
        tcn[j] = t;
        hn[j] = o * t;                                                      // (L6)
        if constexpr (fgr) {                                                // q_t for t + 1
          zn[H + j] = o;
          zn[2 * H + j] = i;
          zn[3 * H + j] = f;
        }
      }
      if constexpr (fgr) {
        const T* m = mask != nullptr ? mask + n * H : nullptr;
        for (int64_t j = 0; j < H; ++j) zn[j] = m != nullptr ? hn[j] * m[j] : hn[j];
      } else if (mask != nullptr) {
        const T* m = mask + n * H;
        T* hi = h_in + n * H;
#pragma omp simd
        for (int64_t j = 0; j < H; ++j) hi[j] = hn[j] * m[j];
      }
    }
  });
}

// dq (FGR only): dL/dq_t, blocks o, i, f, rows dq_stride apart; it enters before σ'
template <typename T, int F>
void backward_step(const T* g, const T* tc, const T* c_prev, const T* dh, T* dc, T* da,
                   const T* p_i, const T* p_f, const T* p_o, const T* dq, int64_t dq_stride,
                   int64_t N, int64_t H) {
  constexpr bool cifg = F & kCIFG, peep = F & kPeep, niaf = F & kNIAF, noaf = F & kNOAF,
                 fgr = F & kFGR;
  const int64_t gH = (cifg ? 3 : 4) * H;
  at::parallel_for(0, N, grain(N, gH), [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      const T* go = g + n * gH;
      const T* gi = go + H;
      const T* gf = go + gH - 2 * H;
      const T* gg = go + gH - H;
      T* dao = da + n * gH;
      T* dai = dao + H;
      T* daf = dao + gH - 2 * H;
      T* dag = dao + gH - H;
      const T *tcn = tc + n * H, *cp = c_prev + n * H, *dhn = dh + n * H;
      T* dcn = dc + n * H;
      const T* dqn = fgr ? dq + n * dq_stride : nullptr;
#pragma omp simd
      for (int64_t j = 0; j < H; ++j) {
        const T o = go[j], f = gf[j], gj = gg[j], t = tcn[j], d_h = dhn[j];
        T dq_i = T(0), dq_f = T(0), d_o, d_c;
        T k1 = o;                                           // ∂h/∂c_t: o for NOAF, else
        if constexpr (!noaf) k1 = o * (T(1) - t * t);       //   o ⊙ (1 - tanh²(c_t))
        if constexpr (fgr) {                                // dq_t joins before σ'
          dq_i = dqn[H + j];
          dq_f = dqn[2 * H + j];
          d_o = (o - o * o) * (t * d_h + dqn[j]);
          d_c = dcn[j] + d_h * k1;                          // (L7)
          if constexpr (peep) d_c += d_o * p_o[j];          // ... the full da_o through (P3)
        } else {
          const T do_pre = t * (o - o * o);                 // ∂h/∂a_o = tanh(c_t) ⊙ o(1 - o)
          if constexpr (peep) k1 += do_pre * p_o[j];        // ... and through o_t (P3)
          d_c = dcn[j] + d_h * k1;                          // (L7)
          d_o = do_pre * d_h;
        }
        T dg = T(1);                                        // tanh'(a_g); 1 for NIAF
        if constexpr (!niaf) dg = T(1) - gj * gj;
        const T df = (f - f * f) * d_c;
        T d_f, d_g, d_i = T(0);
        if constexpr (cifg) {
          d_f = df * (cp[j] - gj);
          d_g = dg * (T(1) - f) * d_c;
        } else {
          const T i = gi[j];
          if constexpr (fgr) {
            d_i = (i - i * i) * (gj * d_c + dq_i);
            d_f = (f - f * f) * (cp[j] * d_c + dq_f);
          } else {
            d_i = (i - i * i) * gj * d_c;                   // (L8)
            d_f = df * cp[j];
          }
          d_g = dg * i * d_c;
          dai[j] = d_i;
        }
        dao[j] = d_o;
        daf[j] = d_f;
        dag[j] = d_g;
        T dc_prev = d_c * f;                                // (L9)
        if constexpr (peep) dc_prev += d_i * p_i[j] + d_f * p_f[j];   // (P1), (P2)
        dcn[j] = dc_prev;
      }
    }
  });
}

// out = rec (⊙ mask) (+ dy): the end of (L10) (a #pragma cannot sit inside AT_DISPATCH's macro)
template <typename T>
void mask_add(const T* rec, const T* mask, const T* dy, T* out, int64_t n) {
  if (mask != nullptr && dy != nullptr) {
#pragma omp simd
    for (int64_t k = 0; k < n; ++k) out[k] = rec[k] * mask[k] + dy[k];
  } else if (mask != nullptr) {
#pragma omp simd
    for (int64_t k = 0; k < n; ++k) out[k] = rec[k] * mask[k];
  } else if (dy != nullptr) {
#pragma omp simd
    for (int64_t k = 0; k < n; ++k) out[k] = rec[k] + dy[k];
  } else {
    std::copy_n(rec, n, out);
  }
}

template <typename T>
const T* data_or_null(const c10::optional<Tensor>& t) {
  return t.has_value() ? t->data_ptr<T>() : nullptr;
}

// the element loops read raw memory: contiguous, and of G's dtype (as type promotion would make
// a mask of another floating type in the Python loops' h * h_mask)
c10::optional<Tensor> like(const c10::optional<Tensor>& t, const Tensor& G) {
  return t.has_value() ? c10::optional<Tensor>(t->to(G.scalar_type()).contiguous())
                       : c10::nullopt;
}

bool elementwise_in_cpp(const Tensor& G) {
  return G.device().is_cpu() && G.is_contiguous() &&
         (G.scalar_type() == at::kFloat || G.scalar_type() == at::kDouble);
}

std::tuple<Tensor, Tensor, Tensor> forward_fused(Tensor G, const Tensor& h0, const Tensor& c0,
                                                 const Tensor& U_t,
                                                 const c10::optional<Tensor>& p_if,
                                                 const c10::optional<Tensor>& p_o,
                                                 const c10::optional<Tensor>& h_mask,
                                                 const c10::optional<Tensor>& R_t,
                                                 const c10::optional<Tensor>& q0,
                                                 int64_t flags) {
  const int64_t T = G.size(0), N = G.size(1), gH = G.size(2), H = h0.size(-1);
  const bool fgr = flags & kFGR;
  Tensor C = at::empty({T, N, H}, G.options());
  Tensor TC = at::empty_like(C);
  Tensor Y = at::empty_like(C);
  Tensor c0c = c0.to(G.scalar_type()).contiguous();
  auto mask = like(h_mask, G);
  auto pif = like(p_if, G), po = like(p_o, G);
  Tensor h_in = mask.has_value() ? h0 * *mask : h0;
  Tensor h_buf = at::empty({N, H}, G.options());
  Tensor Wc = U_t, Z;  // FGR: [h_{t-1}, q_{t-1}] (N, 4H) @ [U^T; R^T 0] (4H, gH), one product
  const bool split = fgr && H >= kFGRSplit;
  if (fgr) {
    if (!split) {
      Wc = at::zeros({4 * H, gH}, G.options());
      Wc.narrow(0, 0, H).copy_(U_t);
      Wc.narrow(0, H, 3 * H).narrow(1, 0, 3 * H).copy_(*R_t);
    }
    Z = at::empty({N, 4 * H}, G.options());
    Z.narrow(1, 0, H).copy_(h_in);
    Z.narrow(1, H, 3 * H).copy_(*q0);
    h_in = Z;
  }
  AT_DISPATCH_FLOATING_TYPES(G.scalar_type(), "lstm_forward", [&] {
    const scalar_t* pi = pif.has_value() ? pif->data_ptr<scalar_t>() : nullptr;
    const scalar_t* pf = pi != nullptr ? pi + H : nullptr;
    if (!fgr && blas_fits<scalar_t>(N, H, gH)) {  // raw pointers and BLAS: no tensor per step
      const int64_t NH = N * H;
      Tensor U = U_t.t().contiguous();  // (gH, H)
      Tensor h_first = h_in.to(G.scalar_type()).contiguous();
      scalar_t *g0 = G.data_ptr<scalar_t>(), *c = C.data_ptr<scalar_t>(),
               *tc = TC.data_ptr<scalar_t>(), *y = Y.data_ptr<scalar_t>(),
               *hb = h_buf.data_ptr<scalar_t>();
      const scalar_t *Up = U.data_ptr<scalar_t>(), *h = h_first.data_ptr<scalar_t>();
      const scalar_t *m = data_or_null<scalar_t>(mask), *po_ = data_or_null<scalar_t>(po);
      for (int64_t t = 0; t < T; ++t) {
        scalar_t* g = g0 + t * N * gH;
        step_product<scalar_t>(Up, h, g, N, H, gH);  // (N, gH) pre-activations of (L1)-(L4)
        const scalar_t* cp = t > 0 ? c + (t - 1) * NH : c0c.data_ptr<scalar_t>();
        with_flags(flags, [&](auto F) {
          forward_step<scalar_t, decltype(F)::value>(g, cp, c + t * NH, tc + t * NH,
                                                     y + t * NH, hb, m, pi, pf, po_, nullptr,
                                                     N, H);
        });
        h = mask.has_value() ? hb : y + t * NH;
      }
      return;
    }
    for (int64_t t = 0; t < T; ++t) {
      Tensor Gt = G.select(0, t);
      if (split) {
        Gt.addmm_(Z.narrow(1, 0, H), U_t);  // (N, gH) pre-activations of (L1)-(L4)
        Gt.narrow(1, 0, 3 * H).addmm_(Z.narrow(1, H, 3 * H), *R_t);  // + R q_{t-1}
      } else {
        Gt.addmm_(h_in, Wc);  // (N, gH) pre-activations of (L1)-(L4) (+ R q_{t-1} for FGR)
      }
      const scalar_t* cp = t > 0 ? C.select(0, t - 1).data_ptr<scalar_t>()
                                 : c0c.data_ptr<scalar_t>();
      Tensor Yt = Y.select(0, t);
      with_flags(flags, [&](auto F) {
        forward_step<scalar_t, decltype(F)::value>(
            Gt.data_ptr<scalar_t>(), cp, C.select(0, t).data_ptr<scalar_t>(),
            TC.select(0, t).data_ptr<scalar_t>(), Yt.data_ptr<scalar_t>(),
            h_buf.data_ptr<scalar_t>(), data_or_null<scalar_t>(mask), pi, pf,
            data_or_null<scalar_t>(po), fgr ? Z.data_ptr<scalar_t>() : nullptr, N, H);
      });
      h_in = fgr ? Z : mask.has_value() ? h_buf : Yt;
    }
  });
  return {C, TC, Y};
}

std::tuple<Tensor, Tensor, Tensor, Tensor> backward_fused(
    const Tensor& G, const Tensor& C, const Tensor& TC, const Tensor& c0, const Tensor& U_p,
    const c10::optional<Tensor>& p_i, const c10::optional<Tensor>& p_f,
    const c10::optional<Tensor>& p_o, const c10::optional<Tensor>& h_mask,
    const c10::optional<Tensor>& R_p, const Tensor& dY_, const Tensor& dh_T, const Tensor& dc_T,
    const c10::optional<Tensor>& dq_T, int64_t flags) {
  const int64_t T = G.size(0), N = G.size(1), gH = G.size(2);
  const int64_t H = gH / ((flags & kCIFG) ? 3 : 4);
  const bool fgr = flags & kFGR;
  Tensor dY = dY_.to(G.scalar_type()).contiguous(), c0c = c0.to(G.scalar_type()).contiguous();
  auto mask = like(h_mask, G);
  auto pi_ = like(p_i, G), pf_ = like(p_f, G), po_ = like(p_o, G);
  Tensor da = at::empty_like(G);
  Tensor dh = (dY.select(0, T - 1) + dh_T).to(G.scalar_type()).contiguous();
  Tensor dc = dc_T.to(G.scalar_type()).clone(at::MemoryFormat::Contiguous);
  Tensor rec = at::empty({N, H}, G.options());
  // FGR: da_t (N, gH) @ [U | R 0] (gH, 4H) gives [U^T da_t, dq_{t-1} = R^T da_{s,t}] at once
  Tensor Vc, out;
  Tensor dq = fgr ? dq_T->to(G.scalar_type()).contiguous() : at::empty({N, 0}, G.options());
  int64_t dq_stride = 3 * H;
  const bool split = fgr && H >= kFGRSplit;
  if (fgr && !split) {
    Vc = at::zeros({gH, 4 * H}, G.options());
    Vc.narrow(1, 0, H).copy_(U_p);
    Vc.narrow(0, 0, 3 * H).narrow(1, H, 3 * H).copy_(*R_p);
    out = at::empty({N, 4 * H}, G.options());
  }
  AT_DISPATCH_FLOATING_TYPES(G.scalar_type(), "lstm_backward", [&] {
    const scalar_t* dq_ptr = fgr ? dq.data_ptr<scalar_t>() : nullptr;
    if (!fgr && blas_fits<scalar_t>(N, H, gH)) {  // raw pointers and BLAS: no tensor per step
      const int64_t NH = N * H;
      Tensor U = U_p.contiguous();  // (gH, H)
      const scalar_t *g0 = G.data_ptr<scalar_t>(), *tc = TC.data_ptr<scalar_t>(),
                     *c = C.data_ptr<scalar_t>(), *dy = dY.data_ptr<scalar_t>(),
                     *Up = U.data_ptr<scalar_t>(), *m = data_or_null<scalar_t>(mask);
      scalar_t *da0 = da.data_ptr<scalar_t>(), *dhp = dh.data_ptr<scalar_t>(),
               *dcp = dc.data_ptr<scalar_t>(), *r = rec.data_ptr<scalar_t>();
      for (int64_t t = T - 1; t >= 0; --t) {
        const scalar_t* cp = t > 0 ? c + (t - 1) * NH : c0c.data_ptr<scalar_t>();
        scalar_t* da_t = da0 + t * N * gH;
        with_flags(flags, [&](auto F) {
          backward_step<scalar_t, decltype(F)::value>(
              g0 + t * N * gH, tc + t * NH, cp, dhp, dcp, da_t, data_or_null<scalar_t>(pi_),
              data_or_null<scalar_t>(pf_), data_or_null<scalar_t>(po_), nullptr, 0, N, H);
        });
        // (L10): dh_{t-1} = U^T da_t (rows), through the dropout mask, + dL/dh_{t-1} from above
        const scalar_t* dy_prev = t > 0 ? dy + (t - 1) * NH : nullptr;
        if (m == nullptr && dy_prev != nullptr) {
          std::copy_n(dy_prev, NH, dhp);  // dh = dY_{t-1} + U^T da_t, in one product
          step_product_back<scalar_t>(Up, da_t, dhp, N, H, gH, scalar_t(1));
        } else {
          step_product_back<scalar_t>(Up, da_t, r, N, H, gH, scalar_t(0));
          mask_add<scalar_t>(r, m, dy_prev, dhp, NH);
        }
      }
      return;
    }
    for (int64_t t = T - 1; t >= 0; --t) {
      const scalar_t* cp = t > 0 ? C.select(0, t - 1).data_ptr<scalar_t>()
                                 : c0c.data_ptr<scalar_t>();
      Tensor da_t = da.select(0, t);
      with_flags(flags, [&](auto F) {
        backward_step<scalar_t, decltype(F)::value>(
            G.select(0, t).data_ptr<scalar_t>(), TC.select(0, t).data_ptr<scalar_t>(), cp,
            dh.data_ptr<scalar_t>(), dc.data_ptr<scalar_t>(), da_t.data_ptr<scalar_t>(),
            data_or_null<scalar_t>(pi_), data_or_null<scalar_t>(pf_),
            data_or_null<scalar_t>(po_), dq_ptr, dq_stride, N, H);
      });
      // (L10): dh_{t-1} = U^T da_t (rows), through the dropout mask, + the output's gradient
      if (fgr) {
        Tensor r;
        if (split) {
          r = at::mm(da_t, U_p);
          dq = at::mm(da_t.narrow(1, 0, 3 * H), *R_p);  // dq_{t-1} = R^T da_{s,t}
        } else {
          at::mm_out(out, da_t, Vc);
          r = out.narrow(1, 0, H);
        }
        if (mask.has_value()) {
          dh = t > 0 ? at::addcmul(dY.select(0, t - 1), r, *mask) : r * *mask;
        } else {
          dh = t > 0 ? at::add(dY.select(0, t - 1), r) : r.clone();
        }
        dq_ptr = split ? dq.data_ptr<scalar_t>() : out.data_ptr<scalar_t>() + H;
        dq_stride = split ? 3 * H : 4 * H;
      } else if (mask.has_value()) {
        at::mm_out(rec, da_t, U_p).mul_(*mask);
        dh = t > 0 ? rec.add(dY.select(0, t - 1)) : rec.clone();
      } else {
        dh = t > 0 ? at::addmm(dY.select(0, t - 1), da_t, U_p) : at::mm(da_t, U_p);
      }
    }
  });
  if (fgr && !split) dq = out.narrow(1, H, 3 * H).clone(at::MemoryFormat::Contiguous);
  return {da, dh, dc, dq};
}

// ---- any other dtype or device: the Python loops' ATen calls, from C++ ---------------------
// forward: G in place; returns C (c_t), TC (tanh(c_t), or c_t for NOAF), Y (h_t)
std::tuple<Tensor, Tensor, Tensor> forward_aten(Tensor G, const Tensor& h0, const Tensor& c0,
                                                const Tensor& U_t,
                                                const c10::optional<Tensor>& p_if,
                                                const c10::optional<Tensor>& p_o,
                                                const c10::optional<Tensor>& h_mask,
                                                const c10::optional<Tensor>& R_t,
                                                const c10::optional<Tensor>& q0,
                                                int64_t flags) {
  const bool cifg = flags & kCIFG, peep = flags & kPeep, niaf = flags & kNIAF,
             noaf = flags & kNOAF, fgr = flags & kFGR;
  const int64_t T = G.size(0), N = G.size(1), gH = G.size(2), H = h0.size(-1);
  const int64_t nd = cifg ? 2 : 3;
  Tensor C = at::empty({T, N, H}, G.options());
  Tensor TC = at::empty_like(C);
  Tensor Y = at::empty_like(C);
  Tensor h = h0, c = c0, q = fgr ? *q0 : Tensor();
  for (int64_t t = 0; t < T; ++t) {
    Tensor Gt = G.select(0, t);
    Tensor O = Gt.narrow(1, 0, H), F = Gt.narrow(1, gH - 2 * H, H), Gg = Gt.narrow(1, gH - H, H);
    Tensor Ct = C.select(0, t), TCt = TC.select(0, t), Yt = Y.select(0, t);
    Tensor h_in = h_mask.has_value() ? h * *h_mask : h;
    Gt.addmm_(h_in, U_t);  // (N, gH) pre-activations of (L1)-(L4)
    if (fgr) {  // + R q_{t-1} on o, i, f; q_t is this block once σ ran
      Tensor s = Gt.narrow(1, 0, 3 * H);
      s.addmm_(q, *R_t);
      q = s;
    }
    if (peep) {  // (P1), (P2): i and f look at c_{t-1}
      Gt.narrow(1, H, 2 * H).view({N, 2, H}).addcmul_(*p_if, c.unsqueeze(1)).sigmoid_();
    } else {
      Gt.narrow(1, 0, nd * H).sigmoid_();  // (L1), (L2), (L4)
    }
    Tensor g = niaf ? Gg : Gg.tanh_();  // (L3)
    if (cifg) {  // (C1)
      c = at::addcmul_out(Ct, g, F, c - g);
    } else {  // (L5)
      c = at::mul_out(Ct, F, c).addcmul_(Gt.narrow(1, H, H), g);
    }
    if (peep) O.addcmul_(*p_o, c).sigmoid_();  // (P3)
    if (noaf) {
      TCt.copy_(c);
      h = at::mul_out(Yt, O, c);
    } else {
      h = at::mul_out(Yt, O, at::tanh_out(TCt, c));  // (L6)
    }
  }
  return {C, TC, Y};
}

// backward: returns da (T, N, gH), the gradient on the pre-activations (o first), dh_0, dc_0
std::tuple<Tensor, Tensor, Tensor, Tensor> backward_aten(
    const Tensor& G, const Tensor& C, const Tensor& TC, const Tensor& c0, const Tensor& U_p,
    const c10::optional<Tensor>& p_i, const c10::optional<Tensor>& p_f,
    const c10::optional<Tensor>& p_o, const c10::optional<Tensor>& h_mask,
    const c10::optional<Tensor>& R_p, const Tensor& dY, const Tensor& dh_T, const Tensor& dc_T,
    const c10::optional<Tensor>& dq_T, int64_t flags) {
  const bool cifg = flags & kCIFG, peep = flags & kPeep, niaf = flags & kNIAF,
             noaf = flags & kNOAF, fgr = flags & kFGR;
  const int64_t T = G.size(0), N = G.size(1), gH = G.size(2);
  const int64_t H = gH / (cifg ? 3 : 4), nd = cifg ? 2 : 3;
  Tensor one = at::ones({}, G.options());
  Tensor da = at::empty_like(G);
  Tensor dh = dY.select(0, T - 1) + dh_T;
  Tensor dc = dc_T;
  Tensor dq = fgr ? *dq_T : at::empty({G.size(1), 0}, G.options());  // dL/dq_t, blocks o, i, f
  for (int64_t t = T - 1; t >= 0; --t) {
    Tensor S = G.select(0, t), tc = TC.select(0, t);
    Tensor c_prev = t > 0 ? C.select(0, t - 1) : c0;
    Tensor o = S.narrow(1, 0, H), f = S.narrow(1, gH - 2 * H, H), g = S.narrow(1, gH - H, H);
    Tensor da_t = da.select(0, t);
    Tensor da_o = da_t.narrow(1, 0, H), da_f = da_t.narrow(1, gH - 2 * H, H),
           da_g = da_t.narrow(1, gH - H, H);
    at::addcmul_out(da_t, S, S, S, -1);  // σ'(a) = s(1 - s), the sigmoid blocks
    if (niaf) {
      da_g.fill_(1);  // g = a_g
    } else {
      at::addcmul_out(da_g, one, g, g, -1);  // tanh' = 1 - g², (L8)
    }
    Tensor K1 = noaf ? o.clone() : at::addcmul(one, tc, tc, -1).mul_(o);
    if (fgr) {  // dq_t enters before σ'
      da_o.mul_(at::addcmul(dq.narrow(1, 0, H), tc, dh));
      dc = at::addcmul(dc, dh, K1);  // (L7)
      if (peep) dc.addcmul_(da_o, *p_o);
      da_t.narrow(1, H, H).mul_(at::addcmul(dq.narrow(1, H, H), g, dc));
      da_f.mul_(at::addcmul(dq.narrow(1, 2 * H, H), c_prev, dc));
      da_g.mul_(S.narrow(1, H, H)).mul_(dc);
    } else {
      da_o.mul_(tc);  // (L8)
      if (peep) K1.addcmul_(da_o, *p_o);
      dc = at::addcmul(dc, dh, K1);  // (L7)
      da_o.mul_(dh);
      if (cifg) {
        da_f.mul_(c_prev - g);
        da_g.mul_(1 - f);
      } else {
        Tensor i = S.narrow(1, H, H);
        da_t.narrow(1, H, H).mul_(g);  // (L8)
        da_f.mul_(c_prev);
        da_g.mul_(i);
      }
      da_t.narrow(1, H, nd * H).view({N, nd, H}).mul_(dc.unsqueeze(1));
    }
    dc = dc * f;  // (L9)
    if (peep) dc.addcmul_(da_t.narrow(1, H, H), *p_i).addcmul_(da_f, *p_f);
    Tensor rec = at::mm(da_t, U_p);  // (L10)
    if (h_mask.has_value()) rec = rec.mul_(*h_mask);
    dh = t > 0 ? rec.add_(dY.select(0, t - 1)) : rec;
    if (fgr) dq = at::mm(da_t.narrow(1, 0, 3 * H), *R_p);  // dq_{t-1} = R^T da_{s,t}
  }
  return {da, dh, dc, dq};
}

std::tuple<Tensor, Tensor, Tensor> lstm_forward(Tensor G, const Tensor& h0, const Tensor& c0,
                                                const Tensor& U_t,
                                                const c10::optional<Tensor>& p_if,
                                                const c10::optional<Tensor>& p_o,
                                                const c10::optional<Tensor>& h_mask,
                                                const c10::optional<Tensor>& R_t,
                                                const c10::optional<Tensor>& q0,
                                                int64_t flags) {
  TORCH_CHECK(!(flags & kFGR) || (R_t.has_value() && q0.has_value()),
              "lstm_lib_steps: FGR needs R_t and q0");
  auto run = elementwise_in_cpp(G) ? forward_fused : forward_aten;
  return run(G, h0, c0, U_t, p_if, p_o, h_mask, R_t, q0, flags);
}

std::tuple<Tensor, Tensor, Tensor, Tensor> lstm_backward(
    const Tensor& G, const Tensor& C, const Tensor& TC, const Tensor& c0, const Tensor& U_p,
    const c10::optional<Tensor>& p_i, const c10::optional<Tensor>& p_f,
    const c10::optional<Tensor>& p_o, const c10::optional<Tensor>& h_mask,
    const c10::optional<Tensor>& R_p, const Tensor& dY, const Tensor& dh_T, const Tensor& dc_T,
    const c10::optional<Tensor>& dq_T, int64_t flags) {
  TORCH_CHECK(!(flags & kFGR) || (R_p.has_value() && dq_T.has_value()),
              "lstm_lib_steps: FGR needs R_p and dq_T");
  auto run = elementwise_in_cpp(G) ? backward_fused : backward_aten;
  return run(G, C, TC, c0, U_p, p_i, p_f, p_o, h_mask, R_p, dY, dh_T, dc_T, dq_T, flags);
}

}  // namespace

TORCH_LIBRARY(lstm_lib_steps, m) {
  m.def("lstm_forward(Tensor(a!) G, Tensor h0, Tensor c0, Tensor U_t, Tensor? p_if, "
        "Tensor? p_o, Tensor? h_mask, Tensor? R_t, Tensor? q0, int flags) "
        "-> (Tensor, Tensor, Tensor)",
        &lstm_forward);
  m.def("lstm_backward(Tensor G, Tensor C, Tensor TC, Tensor c0, Tensor U_p, Tensor? p_i, "
        "Tensor? p_f, Tensor? p_o, Tensor? h_mask, Tensor? R_p, Tensor dY, Tensor dh_T, "
        "Tensor dc_T, Tensor? dq_T, int flags) -> (Tensor, Tensor, Tensor, Tensor)",
        &lstm_backward);
}
