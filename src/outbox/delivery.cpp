#include "lipsyncd/outbox/delivery.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>

#include "lipsyncd/core/atomic_file.hpp"
#include "lipsyncd/core/disk_error.hpp"
#include "lipsyncd/core/error.hpp"
#include "lipsyncd/core/file_name.hpp"
#include "lipsyncd/core/number_format.hpp"
#include "lipsyncd/outbox/placement.hpp"

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

// The sidecar written beside the result in the spool, then linked into the outbox with it.
// Written once: a repeat after a crash must find the very file it already placed.
std::filesystem::path staged_sidecar_for(const std::filesystem::path& verified) {
  return verified.parent_path() / (verified.filename().string() + ".sidecar.json");
}

// The sidecar's name, never the video's own ("result.json" keeps "result.json.json").
std::string distinct_sidecar_name(const std::string& video_name) {
  const auto name = sidecar_name_for(video_name);
  return name == video_name ? video_name + ".json" : name;
}

bool is_local_filesystem_failure(const Error& e) {
  return e.reason_code() == "disk_error";
}

[[noreturn]] void delivery_blocked(const std::string& message, const Delivery& delivery) {
  throw Error(std::string(kDeliveryBlockedReason), "cannot deliver: " + message,
              "make " + delivery.outbox.string() + " and " + delivery.done.string() +
                  " writable for lipsyncd (owner, mode, read-only mount, immutable flag, missing "
                  "folder); the paid result is kept and delivered by itself once that is fixed",
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
    // A complete download of fal's file: fetching it again brings the same file.
    const bool shorter = facts.duration_s < expected_s;
    throw Error(shorter ? "result_too_short" : "result_too_long",
                "fal's result lasts " + seconds_text(facts.duration_s) + " where the plan " +
                    "expected " + seconds_text(expected_s),
                shorter ? "check that the input files were complete when they were taken (a file "
                          "still being copied is cut short), then drop them again"
                        : "check the inputs and the sync_mode, then drop them again",
                Permanence::permanent);
  }
  return facts;
}

void discard_result(const std::filesystem::path& downloaded) {
  std::error_code ignored;  // the next attempt downloads again either way
  std::filesystem::remove(downloaded, ignored);
  std::filesystem::remove(staged_sidecar_for(downloaded), ignored);
}

Delivered deliver_result(const std::filesystem::path& verified, const std::filesystem::path& outbox,
                         const std::string& name, const Sidecar& sidecar) {
  if (!std::filesystem::exists(verified)) {
    throw Error("result_missing", "the downloaded result " + verified.string() + " is gone",
                "the result is downloaded again", Permanence::transient);
  }
  const auto staged = staged_sidecar_for(verified);
  if (!std::filesystem::exists(staged)) {
    Sidecar stamped = sidecar;
    if (stamped.delivered_at.empty()) stamped.delivered_at = utc_timestamp_now();
    write_file_atomically(staged, to_json(stamped));
  }
  // Both sources stay where they are until the caller has recorded the delivery, so a repeat
  // after a crash finds the same files under the same names instead of a second copy.
  const auto placed =
      place_together({{verified, name}, {staged, distinct_sidecar_name(name)}}, outbox);
  Delivered delivered;
  delivered.video = placed.destinations[0];
  delivered.sidecar = placed.destinations[1];
  delivered.crossed_filesystems = placed.crossed_filesystems;
  return delivered;
}

std::string file_name_for(const WantedName& wanted) {
  if (wanted.requested && !wanted.requested->empty()) {
    return std::filesystem::path(*wanted.requested).filename().string();
  }
  return std::filesystem::path(output_name(wanted.pattern, wanted.stem)).filename().string();
}

Delivered deliver(const Delivery& delivery) {
  try {
    auto delivered = deliver_result(delivery.verified, delivery.outbox,
                                    file_name_for(delivery.name), delivery.sidecar);
    const auto archived = archive_inputs(delivery.inputs, delivery.done);
    delivered.archived = archived.files;
    delivered.crossed_filesystems = delivered.crossed_filesystems || archived.crossed_filesystems;
    return delivered;
  } catch (const Error& e) {
    if (is_local_filesystem_failure(e)) delivery_blocked(e.what(), delivery);
    throw;
  } catch (const std::filesystem::filesystem_error& e) {
    if (is_out_of_space(e.code().value())) {
      throw disk_full(std::string("cannot deliver: ") + e.what(), delivery.outbox);
    }
    delivery_blocked(e.what(), delivery);
  }
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
