#include "zeptodb/sql/time_literal.h"

#include "zeptodb/common/strings.h"

#include <array>
#include <cstdio>
#include <limits>

namespace zepto::sql {
namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kDay = 86'400 * kSecond;

// Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
// (H. Hinnant's days_from_civil).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civil_from_days(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

bool is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned days_in_month(int64_t y, unsigned m) {
  static constexpr std::array<unsigned, 12> kDays = {31, 28, 31, 30, 31, 30,
                                                     31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

// Reads exactly `n` digits at s[*i].
bool digits(std::string_view s, size_t* i, size_t n, unsigned* out) {
  if (*i + n > s.size()) return false;
  unsigned v = 0;
  for (size_t k = 0; k < n; ++k) {
    char c = s[*i + k];
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  *i += n;
  *out = v;
  return true;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

std::optional<int64_t> parse_timestamp(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  size_t i = 0;
  unsigned year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!digits(s, &i, 4, &year) || i >= s.size() || s[i++] != '-' || !digits(s, &i, 2, &month) ||
      i >= s.size() || s[i++] != '-' || !digits(s, &i, 2, &day))
    return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) return std::nullopt;
  int64_t frac_ns = 0;
  int64_t offset_s = 0;
  if (i < s.size()) {
    if (s[i] != ' ' && s[i] != 'T') return std::nullopt;
    ++i;
    if (!digits(s, &i, 2, &hour) || i >= s.size() || s[i++] != ':' || !digits(s, &i, 2, &minute))
      return std::nullopt;
    if (i < s.size() && s[i] == ':') {
      ++i;
      if (!digits(s, &i, 2, &second)) return std::nullopt;
      if (i < s.size() && s[i] == '.') {
        ++i;
        size_t n = 0;
        int64_t scale = 100'000'000;
        for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, ++n) {
          if (n >= 9) return std::nullopt;
          frac_ns += (s[i] - '0') * scale;
          scale /= 10;
        }
        if (n == 0) return std::nullopt;
      }
    }
    if (hour > 23 || minute > 59 || second > 59) return std::nullopt;
    if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
      ++i;
    } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
      const int sign = s[i++] == '-' ? -1 : 1;
      unsigned oh, om = 0;
      if (!digits(s, &i, 2, &oh)) return std::nullopt;
      if (i < s.size() && s[i] == ':') ++i;
      if (i < s.size() && !digits(s, &i, 2, &om)) return std::nullopt;
      if (oh > 23 || om > 59) return std::nullopt;
      offset_s = sign * static_cast<int64_t>(oh * 3600 + om * 60);
    }
    if (i != s.size()) return std::nullopt;
  }
  const int64_t secs = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 +
                       second - offset_s;
  int64_t ns;
  if (__builtin_mul_overflow(secs, kSecond, &ns) || __builtin_add_overflow(ns, frac_ns, &ns))
    return std::nullopt;
  return ns;
}

std::string format_timestamp(int64_t ns) {
  int64_t days = ns / kDay;
  int64_t rem = ns % kDay;
  if (rem < 0) {
    rem += kDay;
    --days;
  }
  int64_t y;
  unsigned m, d;
  civil_from_days(days, &y, &m, &d);
  const int64_t secs = rem / kSecond;
  const int64_t frac = rem % kSecond;
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u %02lld:%02lld:%02lld",
                        static_cast<long long>(y), m, d, static_cast<long long>(secs / 3600),
                        static_cast<long long>(secs / 60 % 60), static_cast<long long>(secs % 60));
  if (frac != 0) {
    if (frac % 1'000'000 == 0)
      n += std::snprintf(buf + n, sizeof buf - n, ".%03lld", static_cast<long long>(frac / 1'000'000));
    else if (frac % 1'000 == 0)
      n += std::snprintf(buf + n, sizeof buf - n, ".%06lld", static_cast<long long>(frac / 1'000));
    else
      n += std::snprintf(buf + n, sizeof buf - n, ".%09lld", static_cast<long long>(frac));
  }
  return std::string(buf, static_cast<size_t>(n));
}

int64_t interval_unit_ns(std::string_view u) {
  struct Unit {
    std::string_view name;
    int64_t ns;
  };
  static constexpr Unit kUnits[] = {
      {"nanosecond", 1},          {"nanoseconds", 1},          {"ns", 1},
      {"microsecond", 1'000},     {"microseconds", 1'000},     {"us", 1'000},
      {"millisecond", 1'000'000}, {"milliseconds", 1'000'000}, {"ms", 1'000'000},
      {"second", kSecond},        {"seconds", kSecond},        {"sec", kSecond},
      {"secs", kSecond},          {"s", kSecond},              {"minute", 60 * kSecond},
      {"minutes", 60 * kSecond},  {"min", 60 * kSecond},       {"mins", 60 * kSecond},
      {"m", 60 * kSecond},        {"hour", 3600 * kSecond},    {"hours", 3600 * kSecond},
      {"h", 3600 * kSecond},      {"day", kDay},               {"days", kDay},
      {"d", kDay},                {"week", 7 * kDay},          {"weeks", 7 * kDay},
      {"w", 7 * kDay},            {"month", -1},               {"months", -1},
      {"quarter", -1},            {"quarters", -1},            {"year", -1},
      {"years", -1},
  };
  for (const Unit& unit : kUnits)
    if (iequals(u, unit.name)) return unit.ns;
  return 0;
}

std::optional<int64_t> scale_interval(int64_t count, int64_t unit_ns) {
  int64_t out;
  if (__builtin_mul_overflow(count, unit_ns, &out)) return std::nullopt;
  return out;
}

std::optional<int64_t> parse_interval(std::string_view s, int64_t default_unit_ns,
                                      std::string* error) {
  auto fail = [&](std::string why) -> std::optional<int64_t> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  __int128 total = 0;
  size_t i = 0;
  size_t parts = 0;
  for (;;) {
    while (i < s.size() && is_space(s[i])) ++i;
    if (i == s.size()) break;
    int sign = 1;
    if (s[i] == '+' || s[i] == '-') sign = s[i++] == '-' ? -1 : 1;
    __int128 whole = 0, frac_num = 0, frac_den = 1;
    size_t ndigits = 0;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, ++ndigits) {
      whole = whole * 10 + (s[i] - '0');
      if (whole > std::numeric_limits<int64_t>::max()) return fail("number out of range");
    }
    if (i < s.size() && s[i] == '.') {
      ++i;
      for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, ++ndigits) {
        if (frac_den < 1'000'000'000'000'000'000LL) {
          frac_num = frac_num * 10 + (s[i] - '0');
          frac_den *= 10;
        }
      }
    }
    if (ndigits == 0) return fail("expected a number");
    while (i < s.size() && is_space(s[i])) ++i;
    size_t ustart = i;
    while (i < s.size() && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z'))) ++i;
    std::string_view unit = s.substr(ustart, i - ustart);
    int64_t unit_ns;
    if (unit.empty()) {
      if (default_unit_ns <= 0 || parts > 0 || i != s.size())
        return fail("expected a unit such as 'minutes' after the number");
      unit_ns = default_unit_ns;
    } else {
      unit_ns = interval_unit_ns(unit);
      if (unit_ns < 0)
        return fail("unit '" + std::string(unit) + "' has no fixed length in nanoseconds");
      if (unit_ns == 0) return fail("unknown unit '" + std::string(unit) + "'");
    }
    total += sign * (whole * unit_ns + frac_num * unit_ns / frac_den);
    if (total > std::numeric_limits<int64_t>::max() || total < std::numeric_limits<int64_t>::min())
      return fail("interval out of range");
    ++parts;
  }
  if (parts == 0) return fail("empty interval");
  return static_cast<int64_t>(total);
}

std::string format_interval(int64_t ns) {
  struct Unit {
    int64_t ns;
    const char* name;
  };
  static constexpr Unit kUnits[] = {{kDay, "day"},           {3600 * kSecond, "hour"},
                                    {60 * kSecond, "minute"}, {kSecond, "second"},
                                    {1'000'000, "millisecond"}, {1'000, "microsecond"},
                                    {1, "nanosecond"}};
  if (ns == 0) return "0 seconds";
  for (const Unit& u : kUnits) {
    if (ns % u.ns == 0) {
      int64_t n = ns / u.ns;
      std::string out = std::to_string(n) + " " + u.name;
      if (n != 1) out += 's';
      return out;
    }
  }
  return std::to_string(ns) + " nanoseconds";
}

}  // namespace zepto::sql
