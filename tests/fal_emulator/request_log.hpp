#pragma once
// The emulator's JSON-lines request log: one line per request received (control routes
// excepted), written and flushed before the response goes out, so a test that got its answer
// can already read the line. Thread-safe.

#include <boost/json/object.hpp>
#include <filesystem>
#include <fstream>
#include <mutex>

namespace lipsyncd::emulator {

class RequestLog {
 public:
  explicit RequestLog(const std::filesystem::path& file);
  void append(const boost::json::object& entry);

 private:
  std::mutex mutex_;
  std::ofstream out_;
};

}  // namespace lipsyncd::emulator
