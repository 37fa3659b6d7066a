#include "request_log.hpp"

#include <boost/json/serialize.hpp>

#include "lipsyncd/core/error.hpp"

namespace lipsyncd::emulator {

RequestLog::RequestLog(const std::filesystem::path& file) {
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path());
  out_.open(file, std::ios::app);
  if (!out_) {
    throw Error("emulator_request_log_unwritable", "cannot open the request log " + file.string(),
                "pass a writable path with --request-log");
  }
}

void RequestLog::append(const boost::json::object& entry) {
  const std::string line = boost::json::serialize(entry);
  std::lock_guard lock(mutex_);
  out_ << line << '\n';
  out_.flush();
}

}  // namespace lipsyncd::emulator
