// The query thread pool (exec/thread_pool.h).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "zeptodb/exec/thread_pool.h"

namespace zepto::exec {
namespace {

TEST(ThreadPool, RunsEveryTaskOnce) {
  for (size_t threads : {1, 2, 8})
    for (size_t tasks : {0, 1, 3, 100}) {
      std::vector<std::atomic<int>> runs(tasks);
      ThreadPool::shared().parallel_for(tasks, threads, [&](size_t t, size_t worker) {
        EXPECT_LT(worker, threads);
        runs[t].fetch_add(1);
      });
      for (size_t t = 0; t < tasks; ++t) EXPECT_EQ(runs[t].load(), 1) << "task " << t << " of " << tasks;
    }
}

TEST(ThreadPool, RethrowsTheFirstError) {
  std::atomic<int> ran{0};
  EXPECT_THROW(ThreadPool::shared().parallel_for(50, 4,
                                                 [&](size_t t, size_t) {
                                                   ran.fetch_add(1);
                                                   if (t == 3) throw std::runtime_error("task 3");
                                                 }),
               std::runtime_error);
  EXPECT_GE(ran.load(), 4);
}

TEST(ThreadPool, CallerDoesNotWaitForHelpersThatHaveNotStarted) {
  // Every worker of the pool is held busy by another caller; a second call
  // that asks for a helper must still finish, on its own thread.
  constexpr size_t kBlockers = 64;
  std::mutex mu;
  std::condition_variable cv;
  size_t started = 0;
  bool release = false;
  std::thread holder([&] {
    ThreadPool::shared().parallel_for(kBlockers, kBlockers, [&](size_t, size_t) {
      std::unique_lock lock(mu);
      ++started;
      cv.notify_all();
      cv.wait(lock, [&] { return release; });
    });
  });
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return started == kBlockers; });  // every worker holds a task
  }
  // Guard against a hang if the behaviour regresses: free the workers after
  // a long while and record that it was needed.
  std::atomic<bool> finished{false}, had_to_release{false};
  std::thread guard([&] {
    for (int i = 0; i < 600 && !finished.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (!finished.load()) {
      had_to_release = true;
      std::lock_guard lock(mu);
      release = true;
      cv.notify_all();
    }
  });
  std::vector<std::thread::id> ran_on(10);
  ThreadPool::shared().parallel_for(10, 2, [&](size_t t, size_t) { ran_on[t] = std::this_thread::get_id(); });
  finished = true;
  EXPECT_FALSE(had_to_release.load());
  for (const auto& id : ran_on) EXPECT_EQ(id, std::this_thread::get_id());
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  guard.join();
  holder.join();
  // The helper job that never started is harmless when a worker reaches it.
  std::atomic<int> after{0};
  ThreadPool::shared().parallel_for(20, 4, [&](size_t, size_t) { after.fetch_add(1); });
  EXPECT_EQ(after.load(), 20);
}

}  // namespace
}  // namespace zepto::exec
