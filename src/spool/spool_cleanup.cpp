#include "lipsyncd/spool/spool_cleanup.hpp"

#include <string>
#include <vector>

namespace lipsyncd::spool {
namespace fs = std::filesystem;
namespace {

// What `lipsyncd retry` of this final job will use again.
bool kept_for_retry(const JobRecord& job, const fs::path& entry) {
  return job.state == JobState::failed && job.has_paid_request() && entry == job.result_file();
}

// A failed long-form job or segment goes on where it stopped when retried: the prepared
// inputs, the cut segments and the segments' results are all still needed.
bool kept_whole_for_retry(const JobRecord& job) {
  return job.state == JobState::failed &&
         (job.is_segment() || (job.plan && job.plan->is_long_form()));
}

bool is_interrupted_temporary(const fs::path& file) {
  const auto name = file.filename().string();
  return name.starts_with(".") && name.ends_with(".tmp");
}

}  // namespace

bool tidy_final_spool_folder(const JobRecord& job) {
  std::error_code ec;
  if (!fs::is_directory(job.spool_dir, ec)) return true;
  if (kept_whole_for_retry(job)) return false;
  const auto inputs = job.spool_dir / "inputs";
  for (const auto& entry : fs::directory_iterator(job.spool_dir, ec)) {
    if (entry.path() == inputs || kept_for_retry(job, entry.path())) continue;
    std::error_code ignored;
    fs::remove_all(entry.path(), ignored);
  }
  // inputs/ goes only when the caller moved everything out of it.
  fs::remove(inputs, ec);
  fs::remove(job.spool_dir, ec);
  return !fs::exists(job.spool_dir, ec);
}

int remove_interrupted_temporaries(const fs::path& job_folder, const fs::path& skip) {
  std::vector<fs::path> found;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(job_folder, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!skip.empty() && it->path() == skip) {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(ec) && is_interrupted_temporary(it->path()))
      found.push_back(it->path());
  }
  int removed = 0;
  for (const auto& file : found) {
    if (fs::remove(file, ec)) ++removed;
  }
  return removed;
}

}  // namespace lipsyncd::spool
