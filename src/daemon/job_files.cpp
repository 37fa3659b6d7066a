#include "lipsyncd/daemon/job_files.hpp"

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "lipsyncd/core/error.hpp"
#include "lipsyncd/outbox/placement.hpp"

namespace lipsyncd::daemon {
namespace {

std::optional<boost::json::object> read_report(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  auto value = boost::json::parse(text.str(), ec);
  if (ec || !value.is_object()) return std::nullopt;
  return value.as_object();
}

}  // namespace

std::vector<outbox::InputFile> job_inputs(const spool::JobRecord& job) {
  const bool in_folder = job.source == JobSource::folder;
  const auto name_of = [in_folder](const spool::SpooledFile& file) {
    if (!in_folder) return file.original_name();
    return (file.original_path.parent_path().filename() / file.original_path.filename()).string();
  };
  std::vector<outbox::InputFile> inputs;
  inputs.push_back({job.video.path, name_of(job.video)});
  inputs.push_back({job.audio.path, name_of(job.audio)});
  for (const auto& extra : job.extras) inputs.push_back({extra.path, name_of(extra)});
  return inputs;
}

int restore_inputs_from_error(const spool::JobRecord& job,
                              const std::filesystem::path& error_folder) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(error_folder, ec)) {
    const auto name = entry.path().filename().string();
    if (!name.ends_with(".error.json")) continue;
    const auto report = read_report(entry.path());
    if (!report || !report->contains("job_id") || report->at("job_id") != job.id.c_str()) continue;
    const auto& files = report->at("files").as_array();
    const auto inputs = job_inputs(job);
    int restored = 0;
    // The report lists the inputs in job_inputs() order, as they were moved.
    for (std::size_t i = 0; i < files.size() && i < inputs.size(); ++i) {
      const auto moved = error_folder / std::string(files[i].as_string());
      if (!std::filesystem::exists(moved)) continue;
      std::filesystem::create_directories(inputs[i].path.parent_path());
      outbox::move_into(moved, inputs[i].path.parent_path(), inputs[i].path.filename().string());
      ++restored;
    }
    if (restored == 0) break;
    std::filesystem::remove(entry.path(), ec);
    return restored;
  }
  throw Error("inputs_not_found",
              "the inputs of job " + job.id + " are no longer in " + error_folder.string(),
              "drop the files into the inbox again instead");
}

}  // namespace lipsyncd::daemon
