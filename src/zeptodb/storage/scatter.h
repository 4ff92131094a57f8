// The loops that write a batch's rows into partition columns (Table::append).
//
// A batch arrives as columns of rows in arrival order; each row belongs to
// one partition (its slot). scatter() writes K columns of one width in one
// pass over the rows, reading each row's slot once. For big batches,
// scatter_streaming() assembles each destination cache line in a small buffer
// and writes it whole with a non-temporal store: the destination is new
// memory written once, and the memory system then need not read every line
// before writing it. fill_streaming() does the same for a constant.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace zepto::scatter {

// Per-slot state of the loops below: when column 0 is a timestamp, whether
// the slot's values so far are in order; for scatter_streaming(), the rows
// before the slot's first whole cache line.
struct StreamSlot {
  size_t head = 0;  // rows written with ordinary stores first (the line is shared)
  int64_t first = 0;  // (set by the caller afterwards)
  int64_t last = INT64_MIN;
  bool sorted = true;
};

// Row i of sources[j] goes to dst[slot[i] * K + j] at position
// cursor[slot[i]], which then advances. S is the type of the slot numbers.
// With HasTs, column 0 is a timestamp whose order per slot is tracked in
// `state`.
template <typename T, size_t K, typename S, bool HasTs = false>
void scatter(const std::byte* const* sources, size_t n, const S* slot, std::byte* const* dst,
             size_t* cursor, StreamSlot* state = nullptr) {
  const std::byte* src[K];
  for (size_t j = 0; j < K; ++j) src[j] = sources[j];
  for (size_t i = 0; i < n; ++i) {
    const size_t s = slot[i];
    const size_t at = cursor[s];
    cursor[s] = at + 1;
    std::byte* const* d = dst + s * K;
    std::byte* out[K];
    T v[K];
    for (size_t j = 0; j < K; ++j) {
      out[j] = d[j];
      std::memcpy(&v[j], src[j] + i * sizeof(T), sizeof(T));
    }
    if constexpr (HasTs) {
      static_assert(sizeof(T) == 8);
      int64_t t;
      std::memcpy(&t, &v[0], 8);
      state[s].sorted &= state[s].last <= t;
      state[s].last = t;
    }
    for (size_t j = 0; j < K; ++j) std::memcpy(out[j] + at * sizeof(T), &v[j], sizeof(T));
  }
}

// scatter() for k = 1..4 columns; with_ts (8-byte columns only) as HasTs.
template <typename T, typename S>
void scatter_k(size_t k, const std::byte* const* src, size_t n, const S* slot, std::byte* const* dst,
               size_t* cursor, bool with_ts = false, StreamSlot* state = nullptr) {
  if constexpr (sizeof(T) == 8) {
    if (with_ts) switch (k) {
        case 1: return scatter<T, 1, S, true>(src, n, slot, dst, cursor, state);
        case 2: return scatter<T, 2, S, true>(src, n, slot, dst, cursor, state);
        case 3: return scatter<T, 3, S, true>(src, n, slot, dst, cursor, state);
        default: return scatter<T, 4, S, true>(src, n, slot, dst, cursor, state);
      }
  }
  switch (k) {
    case 1: return scatter<T, 1>(src, n, slot, dst, cursor);
    case 2: return scatter<T, 2>(src, n, slot, dst, cursor);
    case 3: return scatter<T, 3>(src, n, slot, dst, cursor);
    default: return scatter<T, 4>(src, n, slot, dst, cursor);
  }
}


constexpr size_t kLine = 64;
constexpr size_t kPerLine = kLine / 8;

inline bool streaming_available() {
#if defined(__SSE2__)
  return true;
#else
  return false;
#endif
}

#if defined(__SSE2__)
inline void stream_line(std::byte* to, const std::byte* from) {
  auto* o = reinterpret_cast<__m128i*>(to);
  const auto* q = reinterpret_cast<const __m128i*>(from);
  _mm_stream_si128(o, _mm_load_si128(q));
  _mm_stream_si128(o + 1, _mm_load_si128(q + 1));
  _mm_stream_si128(o + 2, _mm_load_si128(q + 2));
  _mm_stream_si128(o + 3, _mm_load_si128(q + 3));
}
#endif

// scatter<uint64_t, K> with whole-line non-temporal stores. The K
// destinations of a slot must start at the same offset within a cache line
// (columns of 64-byte aligned blocks, same row). `lines` holds nslots * K
// 64-byte aligned lines of scratch; `state[s].head` must be set. With HasTs,
// column 0 is a timestamp whose order per slot is tracked in `state`. Ends
// with a store fence: the rows are visible to whoever then acquires them.
template <size_t K, bool HasTs, typename S>
void scatter_streaming(const std::byte* const* sources, size_t n, const S* slot,
                       std::byte* const* dst, size_t* cursor, std::byte* lines, StreamSlot* state,
                       size_t nslots) {
#if defined(__SSE2__)
  const std::byte* src[K];
  for (size_t j = 0; j < K; ++j) src[j] = sources[j];
  for (size_t i = 0; i < n; ++i) {
    const size_t s = slot[i];
    const size_t at = cursor[s];
    cursor[s] = at + 1;
    StreamSlot& st = state[s];
    uint64_t v[K];
    for (size_t j = 0; j < K; ++j) std::memcpy(&v[j], src[j] + i * 8, 8);
    if constexpr (HasTs) {
      const auto t = static_cast<int64_t>(v[0]);
      st.sorted &= st.last <= t;
      st.last = t;
    }
    std::byte* const* d = dst + s * K;
    if (at < st.head) {  // the slot's first line also holds rows of others
      for (size_t j = 0; j < K; ++j) std::memcpy(d[j] + at * 8, &v[j], 8);
      continue;
    }
    const size_t f = (at - st.head) % kPerLine;
    std::byte* buf = lines + s * K * kLine;
    for (size_t j = 0; j < K; ++j) std::memcpy(buf + j * kLine + f * 8, &v[j], 8);
    if (f == kPerLine - 1)
      for (size_t j = 0; j < K; ++j) stream_line(d[j] + (at + 1 - kPerLine) * 8, buf + j * kLine);
  }
  // The last, partial lines.
  for (size_t s = 0; s < nslots; ++s) {
    const size_t rows = cursor[s];
    if (rows <= state[s].head) continue;
    const size_t f = (rows - state[s].head) % kPerLine;
    const std::byte* buf = lines + s * K * kLine;
    for (size_t j = 0; j < K; ++j)
      std::memcpy(dst[s * K + j] + (rows - f) * 8, buf + j * kLine, f * 8);
  }
  _mm_sfence();
#else
  (void)sources, (void)n, (void)slot, (void)dst, (void)cursor, (void)lines, (void)state, (void)nslots;
#endif
}

// Writes `value` to out[0 .. count), whole aligned lines with non-temporal
// stores; ends with a store fence.
inline void fill_streaming(int64_t* out, size_t count, int64_t value) {
#if defined(__SSE2__)
  size_t i = 0;
  while (i < count && reinterpret_cast<uintptr_t>(out + i) % kLine != 0) out[i++] = value;
  const __m128i v = _mm_set1_epi64x(value);
  for (; i + kPerLine <= count; i += kPerLine) {
    auto* o = reinterpret_cast<__m128i*>(out + i);
    _mm_stream_si128(o, v);
    _mm_stream_si128(o + 1, v);
    _mm_stream_si128(o + 2, v);
    _mm_stream_si128(o + 3, v);
  }
  for (; i < count; ++i) out[i] = value;
  _mm_sfence();
#else
  for (size_t i = 0; i < count; ++i) out[i] = value;
#endif
}

}  // namespace zepto::scatter
