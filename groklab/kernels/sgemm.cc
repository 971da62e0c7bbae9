// groklab's float32 matmul through OpenBLAS, as an XLA FFI custom call on the CPU (groklab/kernels/blas.py
// builds and registers it). c[..., m, n] = op(a)[..., m, k] @ op(b)[..., k, n], op a transpose where the
// attribute says so; a, b and c share their leading (batch) dimensions, one sgemm per batch entry.
#include <dlfcn.h>

#include <cstdint>
#include <cstring>

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

// cblas_sgemm with 64-bit (ILP64, numpy's bundled scipy-openblas64) or 32-bit (LP64) integers
typedef void (*sgemm64_t)(int, int, int, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
                          int64_t, float, float*, int64_t);
typedef void (*sgemm32_t)(int, int, int, int32_t, int32_t, int32_t, float, const float*, int32_t, const float*,
                          int32_t, float, float*, int32_t);
static sgemm64_t sgemm64 = nullptr;
static sgemm32_t sgemm32 = nullptr;

// 0: loaded; 1: the library does not open; 2: it has no such symbol
extern "C" int groklab_blas_load(const char* path, const char* symbol, int ilp64) {
  void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) return 1;
  void* f = dlsym(h, symbol);
  if (!f) return 2;
  if (ilp64) sgemm64 = reinterpret_cast<sgemm64_t>(f);
  else sgemm32 = reinterpret_cast<sgemm32_t>(f);
  return 0;
}

static void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
                 int64_t ldb, float* c) {
  const int row_major = 101, no = 111, yes = 112;
  if (sgemm64) {
    sgemm64(row_major, ta ? yes : no, tb ? yes : no, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, n);
  } else {
    sgemm32(row_major, ta ? yes : no, tb ? yes : no, (int32_t)m, (int32_t)n, (int32_t)k, 1.0f, a, (int32_t)lda, b,
            (int32_t)ldb, 0.0f, c, (int32_t)n);
  }
}

static ffi::Error Sgemm(ffi::Buffer<ffi::F32> a, ffi::Buffer<ffi::F32> b, ffi::ResultBuffer<ffi::F32> c,
                        bool trans_a, bool trans_b) {
  if (!sgemm64 && !sgemm32) return ffi::Error::Internal("groklab_sgemm: OpenBLAS is not loaded");
  auto da = a.dimensions(), db = b.dimensions(), dc = c->dimensions();
  const size_t r = da.size();
  if (r < 2 || db.size() != r || dc.size() != r) return ffi::Error::InvalidArgument("groklab_sgemm: ranks differ");
  int64_t batch = 1;
  for (size_t i = 0; i + 2 < r; ++i) {
    if (da[i] != db[i] || da[i] != dc[i]) return ffi::Error::InvalidArgument("groklab_sgemm: batch dims differ");
    batch *= da[i];
  }
  const int64_t m = dc[r - 2], n = dc[r - 1], k = trans_a ? da[r - 2] : da[r - 1];
  if ((trans_a ? da[r - 1] : da[r - 2]) != m || (trans_b ? db[r - 2] : db[r - 1]) != n ||
      (trans_b ? db[r - 1] : db[r - 2]) != k)
    return ffi::Error::InvalidArgument("groklab_sgemm: shapes do not multiply");
  if (!sgemm64 && (m > INT32_MAX || n > INT32_MAX || k > INT32_MAX))
    return ffi::Error::InvalidArgument("groklab_sgemm: a dimension exceeds 32-bit OpenBLAS");
  float* pc = c->typed_data();
  if (batch == 0 || m == 0 || n == 0) return ffi::Error::Success();
  if (k == 0) {                                          // an empty sum: zeros (BLAS wants k >= 1 for its strides)
    std::memset(pc, 0, sizeof(float) * batch * m * n);
    return ffi::Error::Success();
  }
  const float* pa = a.typed_data();
  const float* pb = b.typed_data();
  const int64_t sa = da[r - 2] * da[r - 1], sb = db[r - 2] * db[r - 1], sc = m * n;
  for (int64_t i = 0; i < batch; ++i)
    gemm(trans_a, trans_b, m, n, k, pa + i * sa, da[r - 1], pb + i * sb, db[r - 1], pc + i * sc);
  return ffi::Error::Success();
}

XLA_FFI_DEFINE_HANDLER_SYMBOL(groklab_sgemm, Sgemm,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Arg<ffi::Buffer<ffi::F32>>()
                                  .Ret<ffi::Buffer<ffi::F32>>()
                                  .Attr<bool>("trans_a")
                                  .Attr<bool>("trans_b"));
