#pragma once
// The BENCH line every benchmark prints (see bench/CMakeLists.txt) and the median the e2e
// benchmarks report. Header-only.

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

namespace lipsyncd::bench {

inline void bench_line(const std::string& name, double value, const std::string& unit,
                       const std::string& anchor, double anchor_value, double ratio,
                       const std::string& goal) {
  std::printf("BENCH\t%s\t%.3f\t%s\t%s\t%.3f\t%.3f\t%s\n", name.c_str(), value, unit.c_str(),
              anchor.c_str(), anchor_value, ratio, goal.c_str());
  std::fflush(stdout);
}

inline double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0 : values[values.size() / 2];
}

}  // namespace lipsyncd::bench
