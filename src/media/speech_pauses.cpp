#include "lipsyncd/media/speech_pauses.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "libav_error.hpp"
#include "libav_handles.hpp"
#include "stream_decoder.hpp"

namespace lipsyncd::media {
namespace {

constexpr double kMinusInfinity = -std::numeric_limits<double>::infinity();

double to_dbfs(double level) {
  return level > 0 ? 20.0 * std::log10(level) : kMinusInfinity;
}

// Sums squares over fixed windows of interleaved samples, however the decoder slices them.
class EnvelopeBuilder {
 public:
  EnvelopeBuilder(double window_s, int sample_rate, int channels)
      : window_frames_(std::max<long>(1, std::lround(window_s * sample_rate))),
        channels_(std::max(1, channels)) {
    envelope_.window_s = static_cast<double>(window_frames_) / sample_rate;
  }

  void add(const float* samples, long frames) {
    for (long f = 0; f < frames; ++f) {
      for (int c = 0; c < channels_; ++c) {
        const double v = samples[f * channels_ + c];
        window_sum_ += v * v;
        total_sum_ += v * v;
        peak_ = std::max(peak_, std::fabs(v));
      }
      if (++window_filled_ == window_frames_) close_window();
    }
    total_values_ += static_cast<double>(frames) * channels_;
  }

  AudioEnvelope finish() {
    if (window_filled_ > 0) close_window();  // a last, shorter window still counts
    envelope_.loudness.peak_dbfs = to_dbfs(peak_);
    envelope_.loudness.rms_dbfs =
        to_dbfs(total_values_ > 0 ? std::sqrt(total_sum_ / total_values_) : 0);
    return std::move(envelope_);
  }

 private:
  void close_window() {
    const double values = static_cast<double>(window_filled_) * channels_;
    envelope_.rms_dbfs.push_back(static_cast<float>(to_dbfs(std::sqrt(window_sum_ / values))));
    window_sum_ = 0;
    window_filled_ = 0;
  }

  long window_frames_;
  int channels_;
  AudioEnvelope envelope_;
  double window_sum_ = 0;
  long window_filled_ = 0;
  double total_sum_ = 0;
  double total_values_ = 0;
  double peak_ = 0;
};

}  // namespace

AudioEnvelope measure_envelope(const MediaInfo& info, double window_s) {
  StreamDecoder decoder(info.file, AVMEDIA_TYPE_AUDIO, 1);
  AVCodecContext* codec = decoder.codec();
  const libav::Swr resampler = packed_float_converter(codec, info.file);

  const int channels = std::max(1, codec->ch_layout.nb_channels);
  EnvelopeBuilder builder(window_s, codec->sample_rate, channels);
  std::vector<float> samples;
  while (const AVFrame* frame = decoder.next_frame()) {
    const int capacity = frame->nb_samples + 32;
    samples.resize(static_cast<size_t>(capacity) * static_cast<size_t>(channels));
    uint8_t* out = reinterpret_cast<uint8_t*>(samples.data());
    const int converted =
        swr_convert(resampler.get(), &out, capacity,
                    const_cast<const uint8_t**>(frame->extended_data), frame->nb_samples);
    if (converted > 0) builder.add(samples.data(), converted);
  }
  return builder.finish();
}

double speech_level_dbfs(const AudioEnvelope& envelope, const PauseSettings& settings) {
  std::vector<float> levels;
  levels.reserve(envelope.rms_dbfs.size());
  for (float level : envelope.rms_dbfs) {
    if (std::isfinite(level)) levels.push_back(level);
  }
  if (levels.empty()) return kMinusInfinity;
  const auto rank = static_cast<std::ptrdiff_t>(std::clamp(settings.speech_percentile, 0.0, 1.0) *
                                                static_cast<double>(levels.size() - 1));
  std::nth_element(levels.begin(), levels.begin() + rank, levels.end());
  return levels[static_cast<size_t>(rank)];
}

// Relative, not absolute: recordings differ by 30 dB or more in level (a studio voice-over
// near -12 dBFS, a phone or a lecture-hall microphone near -40), so a fixed threshold finds
// pauses everywhere in a quiet file and nowhere in a loud, noisy one. The loud percentile is
// the level of the speech itself (pauses and breaths are the quiet part of the distribution,
// so they do not move it); room noise sits 30-50 dB below it in usable recordings, and 25 dB
// below the speech is already too quiet for a word. The floor keeps a whisper-quiet file's
// threshold from sinking below its own noise floor, where no pause would be found at all.
double pause_threshold_dbfs(const AudioEnvelope& envelope, const PauseSettings& settings) {
  const double speech = speech_level_dbfs(envelope, settings);
  return std::max(speech - settings.below_speech_db, settings.floor_dbfs);
}

std::vector<Pause> find_pauses(const AudioEnvelope& envelope, const PauseSettings& settings) {
  const double threshold = pause_threshold_dbfs(envelope, settings);
  const auto& levels = envelope.rms_dbfs;
  std::vector<Pause> pauses;
  size_t i = 0;
  while (i < levels.size()) {
    if (!(levels[i] < threshold)) {
      ++i;
      continue;
    }
    const size_t first = i;
    double quietest = levels[i];
    while (i < levels.size() && levels[i] < threshold)
      quietest = std::min<double>(quietest, levels[i++]);
    const Pause pause{static_cast<double>(first) * envelope.window_s,
                      static_cast<double>(i) * envelope.window_s, quietest};
    // Half a window of slack: a pause measured in whole windows may be a little short.
    if (pause.duration_s() + envelope.window_s / 2 >= settings.min_pause_s) pauses.push_back(pause);
  }
  return pauses;
}

AudioEnvelope fit_envelope(AudioEnvelope envelope, double duration_s) {
  const auto windows = static_cast<size_t>(std::ceil(duration_s / envelope.window_s - 1e-9));
  envelope.rms_dbfs.resize(windows, static_cast<float>(kMinusInfinity));
  return envelope;
}

}  // namespace lipsyncd::media
