#pragma once
// check_pair() + normalization: what the daemon uploads. Synchronous and CPU-heavy; run it on
// the bounded CPU pool. A rejected pair THROWS lipsyncd::Error (permanent, with the report's
// reason code and message), so callers can route every failure the same way; call
// check_pair() first when the full report of a rejection is wanted.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "lipsyncd/config/config.hpp"
#include "lipsyncd/core/sync_mode.hpp"
#include "lipsyncd/media/normalizer.hpp"
#include "lipsyncd/media/pair_report.hpp"

namespace lipsyncd::media {

// One part of a long-form pair, ready to upload: out_dir/segments/NN/{video.mp4,audio.wav},
// both lasting span.duration_s.
struct PreparedSegment {
  int index = 0;  // 1-based
  TimeSpan span;  // on the output timeline
  std::string cut_reason;
  NormalizedFile video;
  NormalizedFile audio;
};

struct PreparedPair {
  PairReport report;     // verdict accept or accept_with_warning
  NormalizedFile video;  // out_dir/video.mp4: H.264 MP4, pre-trimmed to report.plan->video_span
  NormalizedFile audio;  // out_dir/audio.wav: WAV s16le, pre-trimmed to report.plan->audio_span
  // Long-form (report.long_form): video and audio cover the whole output timeline (extended
  // or padded as the sync mode says: video_full.mp4, audio_full.wav when they had to be), and
  // each segment is cut from them.
  std::vector<PreparedSegment> segments;
  // Long-form: the audio over the whole output, already AAC (out_dir/audio_track.m4a), so the
  // stitch after the segments come back only copies it (media::encode_audio_track).
  NormalizedFile audio_track;
};

// out_dir must exist; video.mp4 and audio.wav in it are replaced atomically.
PreparedPair prepare_pair(const std::filesystem::path& video, const std::filesystem::path& audio,
                          const std::filesystem::path& out_dir, const Config& config,
                          std::optional<SyncMode> requested = std::nullopt);

}  // namespace lipsyncd::media
