// Process-wide pools of worker threads: shared() for parallel query
// execution, io() for reading and writing column files (checkpoints, table
// loads), so that file work never queues behind queries or the reverse.
//
// parallel_for(tasks, threads, fn) runs fn(task, worker) for every task in
// [0, tasks) on at most `threads` threads (the caller is one of them) and
// returns when all are done; the first exception thrown by a task is
// rethrown in the caller after every task has stopped. Tasks are claimed in
// increasing order from a shared counter, so a slow task does not hold up
// the others. The caller works on the tasks too and never waits for a
// helper that has not started by the time every task is claimed (on a busy
// machine a woken worker may be scheduled milliseconds later), only for
// helpers still running a task. The pool grows on demand to the largest
// thread count asked for.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace zepto::exec {

class ThreadPool {
 public:
  static ThreadPool& shared();
  static ThreadPool& io();
  ~ThreadPool();

  void parallel_for(size_t tasks, size_t threads, const std::function<void(size_t task, size_t worker)>& fn);

  // Hardware threads (at least 1).
  static size_t hardware_threads();

 private:
  ThreadPool() = default;
  void ensure_workers(size_t n);
  void worker_loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> workers_;
  bool stop_ = false;
};

// Runs fn(i) for every i in [0, n) on ThreadPool::io(), on up to four
// threads (reading, checking, compressing or writing column files is I/O
// and CPU work both); exceptions as in parallel_for().
template <typename Fn>
void parallel_file_work(size_t n, Fn&& fn) {
  ThreadPool::io().parallel_for(n, std::min<size_t>(4, ThreadPool::hardware_threads()),
                                [&](size_t i, size_t) { fn(i); });
}

}  // namespace zepto::exec
