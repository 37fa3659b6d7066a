#include "lipsyncd/media/pair_preparation.hpp"

#include "lipsyncd/core/error.hpp"
#include "lipsyncd/media/pair_check.hpp"

namespace lipsyncd::media {

PreparedPair prepare_pair(const std::filesystem::path& video, const std::filesystem::path& audio,
                          const std::filesystem::path& out_dir, const Config& config,
                          std::optional<SyncMode> requested) {
  PreparedPair prepared;
  prepared.report = check_pair(video, audio, config, requested);
  const PairReport& report = prepared.report;
  if (report.verdict == Verdict::reject) {
    throw Error(report.reason_code, report.message, report.hint, Permanence::permanent);
  }
  // Until the pipeline runs segments (issue 15), a long-form pair must never go out as one
  // request over the endpoint's limit: refuse it as before.
  if (report.long_form) {
    throw Error("video_too_long",
                "the pair needs " + std::to_string(report.long_form->segments.size()) +
                    " requests (a long-form job), which this pipeline cannot run yet.",
                "cut the inputs below " +
                    std::to_string(static_cast<int>(request_limit_s(config))) +
                    " s, or see `lipsyncd check` for the planned segments",
                Permanence::permanent);
  }
  prepared.video =
      normalize_video(*report.video, report.plan->video_span, out_dir / "video.mp4", config.media);
  prepared.audio =
      normalize_audio(*report.audio, report.plan->audio_span, out_dir / "audio.wav", config.media);
  return prepared;
}

}  // namespace lipsyncd::media
