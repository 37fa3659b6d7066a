// The request log is how tests prove what a client sent: every line must be one complete JSON
// object, in order, even when many threads write at once.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <thread>
#include <vector>

#include "request_log.hpp"
#include "test_media.hpp"

namespace lipsyncd::emulator {
namespace {

TEST(EmulatorRequestLog, EveryAppendIsOneParsableLineAvailableAtOnce) {
  lipsyncd::test::TempDir dir;
  RequestLog log(dir / "requests.jsonl");
  log.append(boost::json::object{{"method", "POST"}, {"path", "/fal-ai/sync-lipsync"}});
  // Flushed before append returns: a reader right after sees the line.
  std::ifstream first(dir / "requests.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(first, line));
  EXPECT_EQ(boost::json::parse(line).at("path"), "/fal-ai/sync-lipsync");
}

TEST(EmulatorRequestLog, ConcurrentAppendsNeverInterleave) {
  lipsyncd::test::TempDir dir;
  RequestLog log(dir / "requests.jsonl");
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&log, t] {
      for (int i = 0; i < 250; ++i) {
        log.append(boost::json::object{{"writer", t}, {"n", i}, {"pad", std::string(200, 'x')}});
      }
    });
  }
  for (auto& writer : writers) writer.join();
  std::ifstream in(dir / "requests.jsonl");
  std::string line;
  std::vector<int> next(4, 0);
  int lines = 0;
  while (std::getline(in, line)) {
    const auto entry = boost::json::parse(line).as_object();
    const auto writer = entry.at("writer").to_number<int>();
    EXPECT_EQ(entry.at("n").to_number<int>(), next[writer]++)
        << "writer " << writer << " out of order";
    ++lines;
  }
  EXPECT_EQ(lines, 1000);
}

TEST(EmulatorRequestLog, AnUnwritablePathIsAnErrorNotASilentLoss) {
  EXPECT_THROW(RequestLog("/proc/no-such-dir/requests.jsonl"), std::exception);
}

}  // namespace
}  // namespace lipsyncd::emulator
