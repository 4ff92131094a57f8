#include "zeptodb/exec/kernels/grouping.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <string>

#include "zeptodb/exec/kernels/kernel_internal.h"

namespace zepto::exec {

namespace {

constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kNsPerUs = 1000;
constexpr int64_t kNsPerMs = 1000 * kNsPerUs;
constexpr int64_t kNsPerSec = 1000 * kNsPerMs;
constexpr int64_t kNsPerMin = 60 * kNsPerSec;
constexpr int64_t kNsPerHour = 60 * kNsPerMin;
constexpr int64_t kNsPerDay = 24 * kNsPerHour;

// floor(x / b) * b and whether it fell below INT64_MIN (then the result is
// garbage). b > 0.
inline int64_t xbar_raw(int64_t x, int64_t b, bool& overflow) {
  int64_t r = x % b;
  r += (r < 0) ? b : 0;
  int64_t out;
  overflow = __builtin_sub_overflow(x, r, &out);
  return out;
}

inline int64_t floor_div(int64_t x, int64_t b) {
  int64_t q = x / b;
  return q - ((x % b != 0) && ((x < 0) != (b < 0)));
}

inline int64_t saturate(__int128 v) {
  return v < kMin ? kMin : v > kMax ? kMax : static_cast<int64_t>(v);
}

void check_bucket_int(int64_t bucket) {
  if (bucket <= 0) {
    throw_error(ErrorCode::kInvalidArgument, "xbar(x, bucket): bucket must be positive, got " + std::to_string(bucket));
  }
}

void check_bucket_double(double bucket) {
  if (!(bucket > 0) || std::isinf(bucket)) {
    throw_error(ErrorCode::kInvalidArgument,
                "xbar(x, bucket): bucket must be a positive finite number, got " + std::to_string(bucket));
  }
}

[[noreturn]] void throw_xbar_overflow() {
  throw_error(ErrorCode::kInvalidArgument, "xbar(x, bucket): the bucket start is below the BIGINT range");
}

// Start of the calendar bucket (week and longer) holding ts, in days, and
// the start of the next one; used by date_trunc.
struct DayBucket {
  int64_t start_day, next_day;
};

DayBucket calendar_bucket(TimeUnit unit, int64_t ts) {
  const int64_t d = floor_div(ts, kNsPerDay);
  switch (unit) {
    case TimeUnit::kWeek: {
      const int64_t monday = d - (((d + 3) % 7) + 7) % 7;  // 1970-01-01 was a Thursday
      return {monday, monday + 7};
    }
    case TimeUnit::kMonth:
    case TimeUnit::kQuarter:
    case TimeUnit::kYear: {
      const CivilDate c = civil_from_days(d);
      int32_t m = c.month;
      int32_t step = 1;
      if (unit == TimeUnit::kQuarter) {
        m = (m - 1) / 3 * 3 + 1;
        step = 3;
      } else if (unit == TimeUnit::kYear) {
        m = 1;
        step = 12;
      }
      int64_t ny = c.year;
      int32_t nm = m + step;
      if (nm > 12) {
        nm -= 12;
        ++ny;
      }
      return {days_from_civil(c.year, m, 1), days_from_civil(ny, nm, 1)};
    }
    default:
      return {d, d + 1};
  }
}

int64_t fixed_unit_ns(TimeUnit unit) {
  switch (unit) {
    case TimeUnit::kMicrosecond: return kNsPerUs;
    case TimeUnit::kMillisecond: return kNsPerMs;
    case TimeUnit::kSecond: return kNsPerSec;
    case TimeUnit::kMinute: return kNsPerMin;
    case TimeUnit::kHour: return kNsPerHour;
    case TimeUnit::kDay: return kNsPerDay;
    default: return 0;
  }
}

inline int64_t days_to_ns(int64_t days) { return saturate(static_cast<__int128>(days) * kNsPerDay); }

}  // namespace

// ----------------------------------------------------------------- xbar

int64_t xbar_value(int64_t x, int64_t bucket) {
  check_bucket_int(bucket);
  bool overflow;
  const int64_t r = xbar_raw(x, bucket, overflow);
  if (overflow) throw_xbar_overflow();
  return r;
}

double xbar_value(double x, double bucket) {
  check_bucket_double(bucket);
  return std::floor(x / bucket) * bucket;
}

template <class T>
void xbar(std::span<const T> x, const uint8_t* valid, T bucket, std::span<T> out) {
  const size_t n = x.size();
  if constexpr (std::is_floating_point_v<T>) {
    check_bucket_double(bucket);
    for (size_t i = 0; i < n; ++i) out[i] = std::floor(x[i] / bucket) * bucket;
  } else {
    const int64_t b = bucket;
    check_bucket_int(b);
    // Cache the current bucket [lo, hi]: on sorted input a division is
    // needed only when a row leaves it.
    bool have = false;
    int64_t lo = 0, hi = -1;
    bool overflow = false;
    for (size_t i = 0; i < n; ++i) {
      const int64_t v = x[i];
      if (!(have && v >= lo && v <= hi)) {
        bool of;
        lo = xbar_raw(v, b, of);
        of |= lo < static_cast<int64_t>(std::numeric_limits<T>::min());
        if (of) {
          overflow |= is_valid(valid, i);
          have = false;
          out[i] = static_cast<T>(lo);
          continue;
        }
        hi = saturate(static_cast<__int128>(lo) + b - 1);
        have = true;
      }
      out[i] = static_cast<T>(lo);
    }
    if (overflow) throw_xbar_overflow();
  }
}

// ------------------------------------------------------------ date_trunc

std::optional<TimeUnit> parse_time_unit(std::string_view name) {
  std::string s(name);
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  struct Entry {
    const char* name;
    TimeUnit unit;
  };
  static constexpr Entry kNames[] = {
      {"microsecond", TimeUnit::kMicrosecond}, {"microseconds", TimeUnit::kMicrosecond},
      {"us", TimeUnit::kMicrosecond},          {"millisecond", TimeUnit::kMillisecond},
      {"milliseconds", TimeUnit::kMillisecond}, {"ms", TimeUnit::kMillisecond},
      {"second", TimeUnit::kSecond},           {"seconds", TimeUnit::kSecond},
      {"s", TimeUnit::kSecond},                {"sec", TimeUnit::kSecond},
      {"minute", TimeUnit::kMinute},           {"minutes", TimeUnit::kMinute},
      {"min", TimeUnit::kMinute},              {"hour", TimeUnit::kHour},
      {"hours", TimeUnit::kHour},              {"h", TimeUnit::kHour},
      {"day", TimeUnit::kDay},                 {"days", TimeUnit::kDay},
      {"d", TimeUnit::kDay},                   {"week", TimeUnit::kWeek},
      {"weeks", TimeUnit::kWeek},              {"w", TimeUnit::kWeek},
      {"month", TimeUnit::kMonth},             {"months", TimeUnit::kMonth},
      {"mon", TimeUnit::kMonth},               {"quarter", TimeUnit::kQuarter},
      {"quarters", TimeUnit::kQuarter},        {"q", TimeUnit::kQuarter},
      {"year", TimeUnit::kYear},               {"years", TimeUnit::kYear},
      {"y", TimeUnit::kYear},
  };
  for (const Entry& e : kNames) {
    if (s == e.name) return e.unit;
  }
  return std::nullopt;
}

int64_t days_from_civil(int64_t y, int32_t m, int32_t d) {
  // H. Hinnant's algorithm: eras of 400 years (146097 days) from 0000-03-01.
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;                                // [0, 399]
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;  // [0, 365]
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;        // [0, 146096]
  return era * 146097 + doe - 719468;
}

CivilDate civil_from_days(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int32_t d = static_cast<int32_t>(doy - (153 * mp + 2) / 5 + 1);
  const int32_t m = static_cast<int32_t>(mp < 10 ? mp + 3 : mp - 9);
  return {yoe + era * 400 + (m <= 2), m, d};
}

int64_t date_trunc_value(TimeUnit unit, int64_t ts) {
  if (const int64_t step = fixed_unit_ns(unit)) {
    bool overflow;
    const int64_t r = xbar_raw(ts, step, overflow);
    return overflow ? kMin : r;
  }
  return days_to_ns(calendar_bucket(unit, ts).start_day);
}

void date_trunc(TimeUnit unit, std::span<const int64_t> ts, std::span<int64_t> out) {
  const size_t n = ts.size();
  // Cache the current bucket [lo, next): sorted input recomputes only when a
  // row leaves it.
  bool have = false;
  int64_t lo = 0, next = 0;
  const int64_t step = fixed_unit_ns(unit);
  for (size_t i = 0; i < n; ++i) {
    const int64_t v = ts[i];
    if (!(have && v >= lo && v < next)) {
      if (step != 0) {
        bool overflow;
        lo = xbar_raw(v, step, overflow);
        if (overflow) lo = kMin;
        next = saturate(static_cast<__int128>(lo) + step);
      } else {
        const DayBucket b = calendar_bucket(unit, v);
        lo = days_to_ns(b.start_day);
        next = days_to_ns(b.next_day);
      }
      have = v >= lo && v < next;  // false only at the saturated edges
    }
    out[i] = lo;
  }
}

// ------------------------------------------------------------ sorted runs

template <class T>
void mark_key_changes(std::span<const T> keys, const uint8_t* valid, std::span<uint8_t> flags) {
  const size_t n = keys.size();
  if (n == 0) return;
  flags[0] = 1;
  if (valid == nullptr) {
    for (size_t i = 1; i < n; ++i) flags[i] |= !internal::key_equal(keys[i], keys[i - 1]);
  } else {
    for (size_t i = 1; i < n; ++i) {
      const bool a = valid[i] != 0, b = valid[i - 1] != 0;
      flags[i] |= (a != b) || (a && !internal::key_equal(keys[i], keys[i - 1]));
    }
  }
}

std::vector<int64_t> offsets_from_flags(std::span<const uint8_t> flags) {
  std::vector<int64_t> offsets;
  offsets.push_back(0);
  for (size_t i = 1; i < flags.size(); ++i) {
    if (flags[i]) offsets.push_back(static_cast<int64_t>(i));
  }
  if (!flags.empty()) offsets.push_back(static_cast<int64_t>(flags.size()));
  return offsets;
}

template <class T>
std::vector<int64_t> sorted_runs(std::span<const T> keys, const uint8_t* valid) {
  std::vector<int64_t> offsets;
  offsets.push_back(0);
  const size_t n = keys.size();
  for (size_t i = 1; i < n; ++i) {
    const bool a = is_valid(valid, i), b = is_valid(valid, i - 1);
    if ((a != b) || (a && !internal::key_equal(keys[i], keys[i - 1]))) offsets.push_back(static_cast<int64_t>(i));
  }
  if (n > 0) offsets.push_back(static_cast<int64_t>(n));
  return offsets;
}

#define ZEPTO_GROUPING_INSTANTIATE(T)                                                            \
  template void xbar<T>(std::span<const T>, const uint8_t*, T, std::span<T>);                    \
  template void mark_key_changes<T>(std::span<const T>, const uint8_t*, std::span<uint8_t>);     \
  template std::vector<int64_t> sorted_runs<T>(std::span<const T>, const uint8_t*);

ZEPTO_GROUPING_INSTANTIATE(int32_t)
ZEPTO_GROUPING_INSTANTIATE(int64_t)
ZEPTO_GROUPING_INSTANTIATE(double)
#undef ZEPTO_GROUPING_INSTANTIATE

}  // namespace zepto::exec
