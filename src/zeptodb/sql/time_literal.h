// Text forms of TIMESTAMP and INTERVAL values, as SQL literals write them.
// All values are int64 nanoseconds; timestamps count from the Unix epoch, UTC.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace zepto::sql {

// 'YYYY-MM-DD', 'YYYY-MM-DD HH:MM[:SS[.f...]]' (or 'T' between date and
// time), up to 9 fraction digits, optionally followed by 'Z' or an offset
// '+HH[:MM]' / '-HH[:MM]' (converted to UTC). nullopt if malformed, not a
// real date, or outside the int64 ns range (1677-09-21 .. 2262-04-11).
std::optional<int64_t> parse_timestamp(std::string_view text);

// "2024-01-02 14:30:00", with ".123", ".123456" or ".123456789" when the
// fraction is not zero.
std::string format_timestamp(int64_t ns);

// Length in ns of an interval unit: nanosecond(s)/ns, microsecond(s)/us,
// millisecond(s)/ms, second(s)/sec(s)/s, minute(s)/min(s)/m, hour(s)/h,
// day(s)/d, week(s)/w, case-insensitive. 0 if unknown, -1 for units of
// variable length (month, quarter, year), which an int64 ns cannot hold.
int64_t interval_unit_ns(std::string_view unit);

// `number unit [number unit ...]`, e.g. "5 minutes", "1 hour 30 minutes",
// "-1.5 s". With `default_unit_ns` > 0 a lone number is allowed and counts
// in that unit (INTERVAL '5' MINUTE). nullopt if malformed or out of range;
// *error (if given) then says why.
std::optional<int64_t> parse_interval(std::string_view text, int64_t default_unit_ns = 0,
                                      std::string* error = nullptr);

// "5 minutes", "1 day", "250 milliseconds": the largest unit that divides
// the value exactly.
std::string format_interval(int64_t ns);

// `count` times `unit_ns`, nullopt on overflow.
std::optional<int64_t> scale_interval(int64_t count, int64_t unit_ns);

}  // namespace zepto::sql
