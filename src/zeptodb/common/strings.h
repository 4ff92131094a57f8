// ASCII string helpers shared by the SQL front end, formats, storage and the
// server. ASCII only and independent of the C locale: SQL keywords, format
// names, HTTP tokens and column names compare the same way everywhere.
#pragma once

#include <string>
#include <string_view>

namespace zepto {

constexpr char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

inline std::string to_lower(std::string_view s) {
  std::string r(s);
  for (auto& c : r) c = ascii_lower(c);
  return r;
}

// Case-insensitive (ASCII) equality.
constexpr bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

}  // namespace zepto
