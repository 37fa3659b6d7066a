#pragma once
// JSON text for the structured parts of a job row (inputs, options, plan, result, ...), so
// the sqlite3 shell and json_extract() can read them too. Decoding tolerates missing keys
// (older rows) and throws lipsyncd::Error "store_corrupt" for text that is not JSON.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lipsyncd/spool/job_record.hpp"

namespace lipsyncd::spool::codec {

struct Inputs {
  SpooledFile video;
  SpooledFile audio;
  std::vector<SpooledFile> extras;
};

std::string encode(const Inputs& inputs);
Inputs decode_inputs(const std::string& json);

std::string encode(const JobOptions& options);
JobOptions decode_options(const std::string& json);

std::string encode(const JobPlan& plan);
JobPlan decode_plan(const std::string& json);

std::string encode(const JobSegment& segment);  // parent_id too, though it has its own column
JobSegment decode_segment(const std::string& json);

std::string encode(const JobUploads& uploads);
JobUploads decode_uploads(const std::string& json);

std::string encode(const RequestUrls& urls);
RequestUrls decode_request_urls(const std::string& json);

std::string encode(const JobResult& result);
JobResult decode_result(const std::string& json);

std::string encode(const JobError& error);
JobError decode_error(const std::string& json);

std::string encode(const std::vector<std::filesystem::path>& paths);
std::vector<std::filesystem::path> decode_paths(const std::string& json);

std::string encode(const std::map<JobState, TimePoint>& entered_at);
std::map<JobState, TimePoint> decode_entered_at(const std::string& json);

}  // namespace lipsyncd::spool::codec
