#include "lipsyncd/outbox/error_report.hpp"

#include <boost/json.hpp>

#include "lipsyncd/core/json_text.hpp"

namespace lipsyncd::outbox {

std::string to_json(const ErrorReport& r) {
  boost::json::array files;
  for (const auto& name : r.files) files.emplace_back(name);
  boost::json::object root{
      {"stage", r.stage}, {"reason_code", r.reason_code}, {"message", r.message},
      {"hint", r.hint},   {"files", std::move(files)},    {"failed_at", r.failed_at},
  };
  if (!r.job_id.empty()) root["job_id"] = r.job_id;
  if (r.request_id) root["request_id"] = *r.request_id;
  return json_text(root) + "\n";
}

}  // namespace lipsyncd::outbox
