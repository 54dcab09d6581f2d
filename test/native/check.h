// A tiny test framework: TEST(name) registers a function, CHECK/CHECK_EQ
// record a failure with its location and end the test. main() runs every
// test (or those whose name contains argv[1]) and closes with the line
// "N passed, N failed"; the exit status is 1 when anything failed.
#pragma once

#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

namespace unit {

struct Test {
  const char* name;
  void (*fn)();
};

inline std::vector<Test>& registry() {
  static std::vector<Test> tests;
  return tests;
}

inline bool& failed() {
  static bool f = false;
  return f;
}

struct Register {
  Register(const char* name, void (*fn)()) { registry().push_back({name, fn}); }
};

inline void report(const char* file, int line, const std::string& what) {
  std::printf("    %s:%d: %s\n", file, line, what.c_str());
  failed() = true;
}

template <typename T>
void put(std::ostringstream& s, const T& v) {
  if constexpr (std::is_enum_v<T>) {
    s << static_cast<long long>(v);
  } else if constexpr (std::is_arithmetic_v<T>) {
    s << +v;
  } else {
    s << "?";
  }
}

template <typename A, typename B>
std::string show(const A& a, const B& b, const char* ea, const char* eb) {
  std::ostringstream s;
  s << ea << " == " << eb << " (got ";
  put(s, a);
  s << " vs ";
  put(s, b);
  s << ")";
  return s.str();
}

inline int run_all(int argc, char** argv) {
  int passed = 0, nfailed = 0;
  for (const Test& t : registry()) {
    if (argc > 1 && std::strstr(t.name, argv[1]) == nullptr) continue;
    failed() = false;
    t.fn();
    if (failed()) {
      std::printf("  FAIL %s\n", t.name);
      nfailed++;
    } else {
      std::printf("  ok   %s\n", t.name);
      passed++;
    }
  }
  std::printf("%d passed, %d failed\n", passed, nfailed);
  return nfailed == 0 ? 0 : 1;
}

}  // namespace unit

#define TEST(name)                                            \
  static void test_##name();                                  \
  static unit::Register register_##name(#name, &test_##name); \
  static void test_##name()

#define CHECK(cond)                            \
  do {                                         \
    if (!(cond)) {                             \
      unit::report(__FILE__, __LINE__, #cond); \
      return;                                  \
    }                                          \
  } while (0)

#define CHECK_EQ(a, b)                                                \
  do {                                                                \
    const auto& va_ = (a);                                            \
    const auto& vb_ = (b);                                            \
    if (!(va_ == vb_)) {                                              \
      unit::report(__FILE__, __LINE__, unit::show(va_, vb_, #a, #b)); \
      return;                                                         \
    }                                                                 \
  } while (0)

// |a - b| <= tol
#define CHECK_NEAR(a, b, tol)                                                     \
  do {                                                                            \
    const double va_ = (a), vb_ = (b);                                            \
    if (!(std::fabs(va_ - vb_) <= (tol))) {                                       \
      unit::report(__FILE__, __LINE__,                                            \
                   unit::show(va_, vb_, #a, #b) + " tol " + std::to_string(tol)); \
      return;                                                                     \
    }                                                                             \
  } while (0)
