#include "lipsyncd/core/job_request.hpp"

#include <array>
#include <utility>

namespace lipsyncd {
namespace {

constexpr std::array<std::pair<JobSource, std::string_view>, 4> kSourceNames = {{
    {JobSource::same_stem, "same_stem"},
    {JobSource::manifest, "manifest"},
    {JobSource::folder, "folder"},
    {JobSource::command, "command"},
}};

}  // namespace

std::string_view to_string(JobSource source) noexcept {
  for (const auto& [value, name] : kSourceNames) {
    if (value == source) return name;
  }
  return "same_stem";
}

std::optional<JobSource> parse_job_source(std::string_view name) noexcept {
  for (const auto& [value, known] : kSourceNames) {
    if (known == name) return value;
  }
  return std::nullopt;
}

std::vector<std::filesystem::path> JobRequest::files() const {
  std::vector<std::filesystem::path> all{video, audio};
  all.insert(all.end(), extras.begin(), extras.end());
  return all;
}

}  // namespace lipsyncd
