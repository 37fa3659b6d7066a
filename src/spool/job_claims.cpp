// Claims: taking a pair (or folder) out of the inbox into the job's spool folder and inserting
// the job, crash-safely through the claim manifest, for every backend; and, at recovery,
// finishing or undoing the claims a crash interrupted.

#include <sys/stat.h>

#include <ctime>
#include <random>
#include <set>

#include "claim_manifest.hpp"
#include "content_hash.hpp"
#include "lipsyncd/core/durable_file.hpp"
#include "lipsyncd/spool/job_store.hpp"
#include "time_codec.hpp"

namespace lipsyncd::spool {
namespace fs = std::filesystem;
namespace {

std::string new_job_id(TimePoint now) {
  const std::int64_t millis = to_millis(now);
  const std::time_t seconds = static_cast<std::time_t>(millis / 1000);
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  static thread_local std::mt19937 random{std::random_device{}()};
  char text[48];
  std::snprintf(text, sizeof text, "%04d%02d%02dT%02d%02d%02d.%03dZ-%06x", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(millis % 1000), static_cast<unsigned>(random() & 0xffffff));
  return text;
}

// The spool file name for an input: its original name, made unique inside the job.
fs::path spool_path_for(const fs::path& inputs_dir, const fs::path& original,
                        std::set<std::string>& taken) {
  std::string name = original.filename().string();
  for (int n = 2; taken.contains(name); ++n) {
    name = std::to_string(n) + "-" + original.filename().string();
  }
  taken.insert(name);
  return inputs_dir / name;
}

// Moves an inbox file into the spool (or back). A file gone meanwhile was taken by the user.
MoveKind move_input(const fs::path& from, const fs::path& to) {
  try {
    return durable_move(from, to);
  } catch (const Error& e) {
    if (e.reason_code() != kFileVanishedReason) throw;
    throw Error("input_vanished", from.string() + " disappeared before it could be claimed",
                "the file was moved or deleted while lipsyncd took it; drop it again",
                Permanence::permanent);
  }
}

// How long a claim key guards its files: far longer than any claim takes, and short enough
// that a new file that happens to get the same name, inode, size and mtime is only delayed.
constexpr std::chrono::minutes kClaimKeyLifetime{10};

// The inputs as every node of a fleet names them: inbox-relative path plus the file's
// identity (inode, size, mtime), which a shared filesystem reports alike on every client.
std::string claim_key(const std::vector<fs::path>& files, const fs::path& inbox) {
  std::string key;
  for (const auto& file : files) {
    const auto relative = file.lexically_relative(inbox);
    const bool inside = !inbox.empty() && !relative.empty() && *relative.begin() != "..";
    struct stat info {};
    if (::stat(file.c_str(), &info) != 0) {
      throw Error("input_vanished", file.string() + " disappeared before it could be claimed",
                  "the file was moved or deleted while lipsyncd took it; drop it again",
                  Permanence::permanent);
    }
    key += (inside ? relative : file).string() + "|" + std::to_string(info.st_ino) + ":" +
           std::to_string(info.st_size) + ":" + std::to_string(info.st_mtim.tv_sec) + "." +
           std::to_string(info.st_mtim.tv_nsec) + "\n";
  }
  return key;
}

void put_back(const ClaimManifest& manifest) {
  for (const auto& file : manifest.files()) {
    std::error_code ec;
    if (fs::exists(file.path, ec) && !fs::exists(file.original_path, ec)) {
      if (!manifest.folder.empty()) fs::create_directories(file.original_path.parent_path(), ec);
      try {
        move_input(file.path, file.original_path);
      } catch (const Error&) {
        // Left in the spool folder: recovery finds it there again.
      }
    }
  }
}
}  // namespace

fs::path JobStore::claiming_folder() const {
  // Beside the spool, on its filesystem (the rename into it must be atomic), out of its listing.
  return settings_.state_dir / "claiming" / (settings_.node.empty() ? "-" : settings_.node);
}

ClaimResult JobStore::claim(const JobRequest& request) {
  const TimePoint claimed_at = now();
  ClaimManifest manifest;
  fs::path job_dir;
  // The job folder is made under this node's .claiming/ folder and renamed into the spool
  // with its manifest in it: a job folder never exists without one, so no node (on a shared
  // spool) mistakes another's claim in progress for debris.
  fs::path staging;
  // Two claims in the same millisecond differ in their random suffix; retry on a clash.
  for (int tries = 0;; ++tries) {
    manifest.id = new_job_id(claimed_at);
    job_dir = spool_root_ / manifest.id;
    staging = claiming_folder() / manifest.id;
    std::error_code ec;
    fs::create_directories(staging.parent_path(), ec);
    if (!ec && !fs::exists(job_dir) && fs::create_directory(staging, ec)) break;
    if (ec || tries > 8) {
      throw Error("disk_error", "cannot create the job folder " + staging.string(),
                  "check the state folder's permissions and free space", Permanence::transient);
    }
  }
  const auto remove_staging = [&staging] {
    std::error_code ignored;
    fs::remove_all(staging, ignored);
  };
  try {
    reserve_claim(request, manifest.id);
    manifest.node = settings_.node;
    manifest.name = request.name.empty() ? request.video.stem().string() : request.name;
    manifest.source = request.source;
    manifest.folder = request.folder;
    manifest.options = JobOptions{request.model, request.sync_mode, request.output_name};
    manifest.created_at = claimed_at;
    const fs::path inputs_dir = job_dir / "inputs";
    std::set<std::string> taken;
    manifest.video = {spool_path_for(inputs_dir, request.video, taken), request.video};
    manifest.audio = {spool_path_for(inputs_dir, request.audio, taken), request.audio};
    for (const auto& extra : request.extras) {
      manifest.extras.push_back({spool_path_for(inputs_dir, extra, taken), extra});
    }
    fs::create_directory(staging / "inputs");
    manifest.write(staging);
    // The manifest is on disk before the first input moves: from here on a crash is finished
    // (or undone) by recover().
    fs::rename(staging, job_dir);
    sync_directory(staging.parent_path());
    sync_directory(spool_root_);
  } catch (...) {
    remove_staging();
    throw;
  }

  try {
    return finish_claim(manifest);
  } catch (...) {
    put_back(manifest);
    std::error_code ignored;
    fs::remove_all(job_dir, ignored);
    throw;
  }
}

void JobStore::reserve_claim(const JobRequest& request, const JobId& id) {
  const TimePoint at = now();
  if (!reserve_claim_key(claim_key(request.files(), settings_.inbox_dir), id, at,
                         at - kClaimKeyLifetime)) {
    throw Error(std::string(kClaimedElsewhereReason),
                request.video.filename().string() + " + " + request.audio.filename().string() +
                    " were claimed by another node at the same moment",
                "nothing to do: that node runs the job", Permanence::permanent);
  }
}

bool JobStore::claim_for_rejection(const std::vector<fs::path>& files) {
  const TimePoint at = now();
  // The same key as a claim of these files: one node either claims or rejects them.
  return reserve_claim_key(claim_key(files, settings_.inbox_dir), "rejected by " + settings_.node,
                           at, at - kClaimKeyLifetime);
}

ClaimResult JobStore::finish_claim(const ClaimManifest& manifest) {
  ClaimResult result;
  for (const auto& file : manifest.files()) {
    if (fs::exists(file.path)) continue;  // moved before a crash
    if (move_input(file.original_path, file.path) == MoveKind::copied) {
      result.copied_across_filesystems = true;
    }
  }
  if (!manifest.folder.empty()) {
    std::error_code not_empty;  // extra files the user left: the folder stays
    fs::remove(manifest.folder, not_empty);
  }

  JobRecord& job = result.job;
  job.id = manifest.id;
  job.name = manifest.name;
  job.source = manifest.source;
  job.state = JobState::accepted;
  job.spool_dir = manifest.video.path.parent_path().parent_path();
  job.video = manifest.video;
  job.audio = manifest.audio;
  job.extras = manifest.extras;
  job.options = manifest.options;
  job.content_hash =
      job_content_hash(job.video.path, job.audio.path,
                       job.options.model.value_or(settings().default_model), job.options.sync_mode);
  job.created_at = manifest.created_at;
  job.updated_at = now();
  job.entered_at[JobState::accepted] = job.updated_at;
  if (!settings_.node.empty()) {
    job.lease = {settings_.node, 1, job.updated_at + settings_.lease};
  }

  insert_claimed(job, "claimed (" + std::string(to_string(job.source)) +
                          "): " + job.video.original_path.string() + " + " +
                          job.audio.original_path.string() +
                          (result.copied_across_filesystems ? " (copied across filesystems)" : ""));
  remember_lease(job);
  return result;
}

std::vector<JobId> JobStore::reclaim_interrupted_claims() {
  // This node's claims that died before their folder was renamed into the spool: no input
  // had moved yet.
  std::error_code ignored;
  fs::remove_all(claiming_folder(), ignored);
  fs::remove(claiming_folder().parent_path(), ignored);  // only when no other node's is there
  std::vector<JobId> reclaimed;
  for (const auto& entry : fs::directory_iterator(spool_root_)) {
    const std::string id = entry.path().filename().string();
    if (!entry.is_directory() || id.starts_with(".") || find(id)) continue;
    const auto manifest = ClaimManifest::read(entry.path());
    if (!manifest) {
      // A job folder always has its manifest (claim() renames it in complete): this one is
      // unreadable or was left by a version that made the folder first. No input had moved.
      fs::remove_all(entry.path());
      continue;
    }
    // On a shared spool another node's claim in progress looks the same: not ours to touch.
    if (manifest->node != settings_.node) continue;
    bool all_present = true;
    for (const auto& file : manifest->files()) {
      all_present = all_present && (fs::exists(file.path) || fs::exists(file.original_path));
    }
    if (!all_present) {
      // Someone removed an input meanwhile: give back what is left; intake judges it again.
      put_back(*manifest);
      fs::remove_all(entry.path());
      continue;
    }
    finish_claim(*manifest);
    reclaimed.push_back(manifest->id);
  }
  return reclaimed;
}

}  // namespace lipsyncd::spool
