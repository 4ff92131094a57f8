#include "zeptodb/exec/thread_pool.h"

#include <atomic>
#include <exception>
#include <memory>

namespace zepto::exec {

ThreadPool& ThreadPool::shared() {
  static ThreadPool pool;
  return pool;
}

ThreadPool& ThreadPool::io() {
  static ThreadPool pool;
  return pool;
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

size_t ThreadPool::hardware_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

void ThreadPool::ensure_workers(size_t n) {
  while (workers_.size() < n) workers_.emplace_back([this] { worker_loop(); });
}

void ThreadPool::worker_loop() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
      if (stop_ && jobs_.empty()) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

namespace {
thread_local bool t_in_parallel = false;  // nested calls run serially (no pool deadlock)
}

void ThreadPool::parallel_for(size_t tasks, size_t threads,
                              const std::function<void(size_t, size_t)>& fn) {
  if (tasks == 0) return;
  if (t_in_parallel) threads = 1;
  size_t helpers = std::min(threads, tasks);
  helpers = helpers == 0 ? 0 : helpers - 1;
  struct Shared {
    std::atomic<size_t> next{0};
    std::atomic<bool> failed{false};
    std::exception_ptr error;
    std::mutex mu;
    std::condition_variable done_cv;
    size_t running = 0;   // helpers inside work()
    bool closed = false;  // the caller ran out of tasks: helpers starting now have nothing to do
  };
  auto st = std::make_shared<Shared>();
  auto work = [st, tasks, &fn](size_t worker) {
    bool outer = t_in_parallel;
    t_in_parallel = true;
    for (;;) {
      size_t t = st->next.fetch_add(1);
      if (t >= tasks || st->failed.load()) break;
      try {
        fn(t, worker);
      } catch (...) {
        std::lock_guard lock(st->mu);
        if (!st->error) st->error = std::current_exception();
        st->failed.store(true);
      }
    }
    t_in_parallel = outer;
  };
  // The caller never waits for a helper that has not started: once it runs
  // out of tasks (its own work(0) returns) it closes the call, and a helper that wakes up
  // later (on a busy machine, possibly milliseconds later) returns at once
  // without touching `fn`. The caller waits only for helpers still running
  // a task.
  if (helpers > 0) {
    std::lock_guard lock(mu_);
    ensure_workers(helpers);
    for (size_t w = 1; w <= helpers; ++w) {
      jobs_.emplace_back([st, work, w] {
        {
          std::lock_guard l(st->mu);
          if (st->closed) return;
          ++st->running;
        }
        work(w);
        std::lock_guard l(st->mu);
        if (--st->running == 0) st->done_cv.notify_all();
      });
    }
  }
  if (helpers > 0) cv_.notify_all();
  work(0);
  std::unique_lock lock(st->mu);
  st->closed = true;
  st->done_cv.wait(lock, [&] { return st->running == 0; });
  // Taken out of the shared state, which a helper may release last: the
  // exception is then released by this thread only (its reference count
  // lives in the uninstrumented C++ runtime, which TSan cannot follow).
  std::exception_ptr error = std::move(st->error);
  lock.unlock();
  if (error) std::rethrow_exception(error);
}

}  // namespace zepto::exec
