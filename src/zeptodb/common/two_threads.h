// Work split in two: fn(0) on the calling thread and fn(1) on a thread of its
// own, started for the call (not taken from a shared pool, so the caller never
// waits behind someone else's work).
#pragma once

#include <exception>
#include <system_error>
#include <thread>

namespace zepto {

// Runs fn(0) and, when `two`, fn(1): on a second thread, or after fn(0) on
// this one if no thread can be had. Returns once both are done; the first
// exception (fn(0)'s, else fn(1)'s) is rethrown then.
template <typename Fn>
void run_two(bool two, Fn&& fn) {
  if (!two) return fn(0);
  std::exception_ptr error;
  std::thread helper;
  try {
    helper = std::thread([&] {
      try {
        fn(1);
      } catch (...) {
        error = std::current_exception();
      }
    });
  } catch (const std::system_error&) {  // no thread to be had: do it here
    fn(1);
  }
  try {
    fn(0);
  } catch (...) {
    if (helper.joinable()) helper.join();
    throw;
  }
  if (helper.joinable()) helper.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace zepto
