#pragma once
// Where a finished job's files go: the result video into outbox/ (verified first, then placed
// in one step, never overwriting another job's file) with its sidecar, the inputs into done/;
// a failed job's inputs into error/ with an error report. Every step is idempotent, so the
// daemon can simply repeat it after a crash.

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lipsyncd/core/video_facts.hpp"
#include "lipsyncd/outbox/error_report.hpp"
#include "lipsyncd/outbox/sidecar.hpp"

namespace lipsyncd::outbox {

using lipsyncd::VideoFacts;

// Throws lipsyncd::Error when the file is not readable media.
using VideoProber = std::function<VideoFacts(const std::filesystem::path&)>;

struct InputFile {
  std::filesystem::path path;  // where it is now (the job's spool folder)
  std::string original_name;   // the name it had in the inbox (may include a sub-folder)
};

// Checks a downloaded result. Throws Error "result_invalid" (transient: the download is
// repeated) when `downloaded` is not an MP4 with a video stream: a broken transfer. Throws
// "result_too_short" / "result_too_long" (permanent: the same file would come again, and it
// is paid already) when its duration is more than `tolerance_s` away from `expected_s`
// (expected_s <= 0 skips the duration check). Returns the measured facts.
VideoFacts verify_result(const std::filesystem::path& downloaded, double expected_s,
                         double tolerance_s, const VideoProber& probe);

// Removes a result that failed verification, with the sidecar staged beside it, so the next
// attempt downloads it afresh.
void discard_result(const std::filesystem::path& downloaded);

struct Delivered {
  std::filesystem::path video;
  std::filesystem::path sidecar;
  std::vector<std::filesystem::path> archived;  // the inputs as moved into done/
  bool crossed_filesystems = false;
};

// Places the verified file into `outbox` as `name` and its sidecar beside it, both under one
// common number when a name is taken ("x.lipsync-2.mp4" + "x.lipsync-2.json"). Never replaces
// an existing file; the video and the sidecar always get distinct names, whatever `name` is.
// `verified` is kept (remove it once the delivery is recorded), and so is the sidecar staged
// beside it, so calling again after a crash finds the files already placed instead of
// delivering a second copy.
Delivered deliver_result(const std::filesystem::path& verified, const std::filesystem::path& outbox,
                         const std::string& name, const Sidecar& sidecar);

// The reason code of a delivery the local filesystem refuses (see deliver()).
inline constexpr std::string_view kDeliveryBlockedReason = "delivery_blocked";

// The name a result should have in the outbox: the one the job asked for (a manifest's
// output_name), else [intake] output_pattern with "{stem}" expanded. Only a file name is ever
// used, so an output can never be placed outside the outbox.
struct WantedName {
  std::optional<std::string> requested{};
  std::string pattern{};
  std::string stem{};
};
std::string file_name_for(const WantedName& wanted);

// Everything one delivery needs.
struct Delivery {
  std::filesystem::path verified{};  // the checked result in the job's spool folder
  WantedName name{};                 // a numbered variant when taken: nothing is overwritten
  Sidecar sidecar{};                 // delivered_at is stamped when empty
  std::vector<InputFile> inputs{};   // archived into `done`
  std::filesystem::path outbox{};
  std::filesystem::path done{};
};

// The whole delivery as one crash-safe, repeatable step: the result and its sidecar into the
// outbox under one free name (never replacing a file, see place_together()), then the inputs
// into done/. `verified` and its staged sidecar stay until the caller has recorded the
// delivery, so a repeat after a crash finds the files it placed instead of making a second
// copy. A local filesystem problem (permissions, a read-only or immutable folder, a missing
// folder) throws Error "delivery_blocked", a full disk "disk_full": both transient and
// nobody's fault, so the caller waits without giving up on a paid result.
Delivered deliver(const Delivery& delivery);

struct Archived {
  std::vector<std::filesystem::path> files;
  bool crossed_filesystems = false;
};

// Moves inputs (those still present) into `folder` under their original names.
Archived archive_inputs(const std::vector<InputFile>& inputs, const std::filesystem::path& folder);

// Moves the inputs into error/ and writes error/<stem>.error.json (numbered when taken).
// Returns the report's path.
std::filesystem::path reject_inputs(const std::vector<InputFile>& inputs,
                                    const std::filesystem::path& error_folder,
                                    const std::string& stem, ErrorReport report);

// Expands an output pattern: "{stem}" becomes the job's stem ("{stem}.lipsync.mp4").
std::string output_name(const std::string& pattern, const std::string& stem);

// Now as ISO-8601 UTC with seconds ("2026-11-25T06:30:00Z").
std::string utc_timestamp_now();

}  // namespace lipsyncd::outbox
