// The one exception type of the engine. Front ends map `code` to their own
// error kinds (Python exception classes, HTTP status codes).
#pragma once

#include <stdexcept>
#include <string>

namespace zepto {

enum class ErrorCode {
  kInvalidArgument,  // a value is out of range or malformed (Python ValueError)
  kTypeMismatch,     // a value has the wrong type (Python TypeError)
  kNotFound,         // unknown table, column or key (Python KeyError)
  kAlreadyExists,    // e.g. CREATE TABLE of an existing table
  kNotAvailable,     // a feature that is not built yet (e.g. a storage mode)
  kOutOfMemory,      // the memory limit or the allocator refused (Python MemoryError)
  kIOError,          // a file could not be read or written, or is corrupt (Python OSError)
  kInternal,
};

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

[[noreturn]] inline void throw_error(ErrorCode code, const std::string& message) {
  throw Error(code, message);
}

}  // namespace zepto
