// A dynamically linked C++ program (libstdc++, libgcc_s, libm, libc): iostream, exceptions
// thrown across functions and caught by type, std::thread with a mutex and a condition
// variable, containers and strings. Prints deterministic lines; exits 0 when all agree.
#include <condition_variable>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

int depth(int n) {
  if (n == 0) {
    throw std::runtime_error("bottom reached");
  }
  return depth(n - 1) + 1;
}

struct Counter {
  std::mutex lock;
  std::condition_variable done;
  long total = 0;
  int finished = 0;
};

}  // namespace

int main(int argc, char** argv) {
  int failures = 0;
  try {
    depth(50);
    std::cout << "FAIL no exception\n";
    failures++;
  } catch (const std::runtime_error& e) {
    std::cout << "caught: " << e.what() << "\n";
  }
  try {
    std::vector<int> v(3);
    (void) v.at(7);
  } catch (const std::out_of_range&) {
    std::cout << "caught out_of_range\n";
  }

  Counter c;
  std::vector<std::thread> threads;
  const int n = argc > 1 ? std::stoi(argv[1]) : 8;
  for (int t = 0; t < n; t++) {
    threads.emplace_back([&c, t] {
      long local = 0;
      for (int i = 0; i < 10000; i++) {
        local += i % (t + 1);
      }
      std::lock_guard<std::mutex> g(c.lock);
      c.total += local;
      c.finished++;
      c.done.notify_all();
    });
  }
  {
    std::unique_lock<std::mutex> g(c.lock);
    c.done.wait(g, [&c, n] { return c.finished == n; });
  }
  for (auto& t : threads) {
    t.join();
  }
  long expected = 0;
  for (int t = 0; t < n; t++) {
    for (int i = 0; i < 10000; i++) {
      expected += i % (t + 1);
    }
  }
  std::cout << n << " threads, total " << c.total << (c.total == expected ? " (right)" : " (WRONG)") << "\n";
  failures += c.total != expected;

  std::map<std::string, int> words;
  for (std::string w : {"pear", "apple", "pear", "fig"}) {
    words[w]++;
  }
  for (const auto& [w, k] : words) {
    std::cout << w << "=" << k << " ";
  }
  std::vector<int> xs(100);
  std::iota(xs.begin(), xs.end(), 1);
  std::cout << "\nsum " << std::accumulate(xs.begin(), xs.end(), 0) << "\n";
  std::ifstream in("/proc/self/cmdline");
  std::cout << (in.good() ? "cmdline readable" : "FAIL cmdline") << "\n";
  return failures;
}
