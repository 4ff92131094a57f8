// SHA-256 (FIPS 180-4), hex encoding, constant-time comparison and random
// tokens: what storing and checking API keys and passwords needs.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace zepto::server {

std::array<uint8_t, 32> sha256(std::string_view data);
// Lower-case hex of sha256(data).
std::string sha256_hex(std::string_view data);
std::string to_hex(const uint8_t* data, size_t n);
// Compares without an early exit, so the time taken does not reveal where
// two strings of equal length differ.
bool constant_time_equal(std::string_view a, std::string_view b);
// `n` bytes from the kernel's random source, as hex.
std::string random_hex(size_t n);

}  // namespace zepto::server
