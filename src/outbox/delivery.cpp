#include "lipsyncd/outbox/delivery.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>

#include "lipsyncd/core/atomic_file.hpp"
#include "lipsyncd/core/error.hpp"
#include "lipsyncd/core/file_name.hpp"
#include "lipsyncd/outbox/file_mover.hpp"

namespace lipsyncd::outbox {
namespace {

// Room below the 255-byte limit for what is added later: the sidecar's ".json" for ".mp4" and
// a "-2" when the name is taken.
constexpr std::size_t kMaxDerivedNameBytes = kMaxFileNameBytes - 8;

bool starts_like_mp4(const std::filesystem::path& file) {
  // ISO base media files start with a box whose type is "ftyp" at offset 4.
  std::ifstream in(file, std::ios::binary);
  char header[8] = {};
  in.read(header, sizeof header);
  return in.gcount() == sizeof header && std::string_view(header + 4, 4) == "ftyp";
}

[[noreturn]] void invalid_result(const std::string& message) {
  throw Error("result_invalid", message, "the download is repeated; if it persists, check fal",
              Permanence::transient);
}

}  // namespace

VideoFacts verify_result(const std::filesystem::path& downloaded, double expected_s,
                         double tolerance_s, const VideoProber& probe) {
  if (!starts_like_mp4(downloaded)) {
    invalid_result("the result " + downloaded.filename().string() + " is not an MP4 file");
  }
  VideoFacts facts;
  try {
    facts = probe(downloaded);
  } catch (const Error& e) {
    invalid_result("the result cannot be read as video: " + std::string(e.what()));
  }
  if (!facts.has_video) invalid_result("the result has no video stream");
  if (expected_s > 0 && std::abs(facts.duration_s - expected_s) > tolerance_s) {
    invalid_result("the result lasts " + std::to_string(facts.duration_s) + " s, expected " +
                   std::to_string(expected_s) + " s");
  }
  return facts;
}

Delivered deliver_result(const std::filesystem::path& verified, const std::filesystem::path& outbox,
                         const std::string& name, Sidecar sidecar) {
  std::filesystem::create_directories(outbox);
  if (!std::filesystem::exists(verified)) {
    throw Error("result_missing", "the downloaded result " + verified.string() + " is gone",
                "the result is downloaded again", Permanence::transient);
  }
  // The source stays where it is until the caller has recorded the delivery, so a repeat after
  // a crash finds the same file under the same name instead of delivering a second copy.
  const auto placed = place_into(verified, outbox, name);
  Delivered delivered;
  delivered.video = placed.destination;
  delivered.crossed_filesystems = placed.crossed_filesystems;
  delivered.sidecar = outbox / sidecar_name_for(delivered.video.filename().string());
  if (sidecar.delivered_at.empty()) sidecar.delivered_at = utc_timestamp_now();
  // Written beside the result in the spool and renamed into the outbox, so not even a hidden
  // temporary name shows up there. The name belongs to our video, so replacing a sidecar left
  // by an interrupted earlier attempt of this job is right.
  const auto staged = verified.parent_path() / (verified.filename().string() + ".sidecar.json");
  write_file_atomically(staged, to_json(sidecar));
  if (::rename(staged.c_str(), delivered.sidecar.c_str()) == 0) {
    sync_directory(outbox);
  } else {
    std::filesystem::remove(staged);  // another filesystem: write in place, atomically
    write_file_atomically(delivered.sidecar, to_json(sidecar));
    delivered.crossed_filesystems = true;
  }
  return delivered;
}

Archived archive_inputs(const std::vector<InputFile>& inputs, const std::filesystem::path& folder) {
  Archived archived;
  for (const auto& input : inputs) {
    std::error_code ec;
    if (!std::filesystem::exists(std::filesystem::symlink_status(input.path, ec))) {
      continue;  // moved by a run that crashed after
    }
    std::filesystem::path original(input.original_name);
    const bool escapes = original.is_absolute() || original.empty() ||
                         std::find(original.begin(), original.end(), "..") != original.end();
    if (escapes) original = input.path.filename();  // never archive outside `folder`
    const auto directory = folder / original.parent_path();
    std::filesystem::create_directories(directory);
    const auto moved = move_into(input.path, directory, original.filename().string());
    archived.files.push_back(moved.destination);
    archived.crossed_filesystems = archived.crossed_filesystems || moved.crossed_filesystems;
  }
  return archived;
}

std::filesystem::path reject_inputs(const std::vector<InputFile>& inputs,
                                    const std::filesystem::path& error_folder,
                                    const std::string& stem, ErrorReport report) {
  std::filesystem::create_directories(error_folder);
  const auto archived = archive_inputs(inputs, error_folder);
  if (report.files.empty()) {
    for (const auto& file : archived.files) {
      report.files.push_back(file.lexically_relative(error_folder).string());
    }
  }
  if (report.failed_at.empty()) report.failed_at = utc_timestamp_now();
  const std::string suffix = ".error.json";
  const auto report_path =
      unused_path(error_folder, fit_file_name(stem + suffix, suffix.size(), kMaxDerivedNameBytes));
  write_file_atomically(report_path, to_json(report));
  return report_path;
}

std::string output_name(const std::string& pattern, const std::string& stem) {
  std::string name = pattern;
  const std::string placeholder = "{stem}";
  for (auto at = name.find(placeholder); at != std::string::npos;
       at = name.find(placeholder, at + stem.size())) {
    name.replace(at, placeholder.size(), stem);
  }
  // What follows the last {stem} (".lipsync.mp4") survives a long stem.
  const auto last = pattern.rfind(placeholder);
  const auto tail = last == std::string::npos ? 0 : pattern.size() - last - placeholder.size();
  return fit_file_name(name, tail, kMaxDerivedNameBytes);
}

std::string utc_timestamp_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  ::gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

}  // namespace lipsyncd::outbox
