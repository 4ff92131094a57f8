// Grouping helpers: time buckets (xbar, date_trunc), key-change flags and
// sorted-run detection, so that GROUP BY on keys that storage already keeps
// sorted (symbol, timestamp buckets) is a streaming aggregate over runs.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "zeptodb/exec/kernels/kernel_common.h"

namespace zepto::exec {

// ----------------------------------------------------------------- xbar

// xbar(x, bucket) = floor(x / bucket) * bucket: the start of x's bucket,
// rounding toward minus infinity for negative x too (xbar(-1, 5) = -5,
// not 0). Throws Error(kInvalidArgument) if bucket <= 0 (or is NaN or
// infinite), and for integers if the result would fall below the type's
// minimum.
int64_t xbar_value(int64_t x, int64_t bucket);
double xbar_value(double x, double bucket);

// Column form: out[i] = xbar_value(x[i], bucket). NULL slots are computed
// like any other (their garbage is harmless); the result's validity is the
// input's. Fast on sorted input (one division per bucket, not per row).
// Rows with validity 0 never cause an overflow error.
template <class T>
void xbar(std::span<const T> x, const uint8_t* valid, T bucket, std::span<T> out);

// ------------------------------------------------------------ date_trunc

// Units of date_trunc, on ns timestamps in UTC (no time zones). Weeks are
// ISO weeks starting on Monday 00:00; quarters start in January, April,
// July and October. Dates follow the proleptic Gregorian calendar.
enum class TimeUnit {
  kMicrosecond,
  kMillisecond,
  kSecond,
  kMinute,
  kHour,
  kDay,
  kWeek,
  kMonth,
  kQuarter,
  kYear,
};

// Parses a unit name as written in SQL, case-insensitive: 'microsecond',
// 'millisecond', 'second', 'minute', 'hour', 'day', 'week', 'month',
// 'quarter', 'year', their plurals, and the abbreviations 'us', 'ms', 's',
// 'sec', 'min', 'h', 'd', 'w', 'mon', 'q', 'y'. nullopt if unknown.
std::optional<TimeUnit> parse_time_unit(std::string_view name);

// The start (ns since the epoch, UTC) of the unit containing ts_ns. Correct
// for negative timestamps (before 1970) too; floors, never truncates. A
// bucket that starts before INT64_MIN ns (1677-09-21) gives INT64_MIN, so
// garbage in NULL slots never raises.
int64_t date_trunc_value(TimeUnit unit, int64_t ts_ns);

// Column form of date_trunc_value; NULL slots as in xbar(). Fast on sorted
// input (one calendar computation per bucket, not per row).
void date_trunc(TimeUnit unit, std::span<const int64_t> ts, std::span<int64_t> out);

// Civil-date arithmetic used by date_trunc, exposed for the executor
// (timestamp literals, epoch functions). Days are counted from 1970-01-01.
struct CivilDate {
  int64_t year;
  int32_t month;  // 1..12
  int32_t day;    // 1..31
};
int64_t days_from_civil(int64_t year, int32_t month, int32_t day);
CivilDate civil_from_days(int64_t days);

// ------------------------------------------------------------ sorted runs

// ORs a change flag into `flags` for one key column: flags[i] |= 1 if row i
// differs from row i - 1 in this key (a NULL equals only a NULL; for doubles
// NaN equals NaN and -0.0 equals 0.0), and flags[0] = 1 when the column is
// not empty. Call once per key column on zeroed flags to get the starts of
// runs of equal multi-column keys — these are also the peer_start flags of
// window.h's rank().
template <class T>
void mark_key_changes(std::span<const T> keys, const uint8_t* valid, std::span<uint8_t> flags);

// Converts change flags to CSR offsets: the positions i with flags[i] != 0,
// followed by flags.size(). If flags[0] is 0 on a non-empty input, 0 is
// still the first offset. Empty input gives {0} (no runs).
std::vector<int64_t> offsets_from_flags(std::span<const uint8_t> flags);

// Boundaries of runs of equal values in a key column (sorted, or at least
// with equal keys adjacent), as CSR offsets {0, s1, s2, ..., n}: run r is
// [offsets[r], offsets[r+1]). Empty input gives {0}. Feed the runs to
// range_agg.h (begin = offsets.first(r), end = offsets.subspan(1)) or to
// for_each_partition().
template <class T>
std::vector<int64_t> sorted_runs(std::span<const T> keys, const uint8_t* valid);

}  // namespace zepto::exec
