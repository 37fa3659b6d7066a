#pragma once
// Where the speech pauses: the audio's loudness over time (an RMS envelope of short windows)
// and the stretches of it quiet enough, long enough, to cut a long-form job in without cutting
// a word. measure_envelope() decodes once with libav; everything else is a pure function of
// the envelope (thread-safe, unit-testable on made-up envelopes).

#include <vector>

#include "lipsyncd/media/media_info.hpp"

namespace lipsyncd::media {

// The RMS level of consecutive windows of the audio (all channels together), in dBFS
// (digital silence: -inf). 14400 s at 20 ms is 720,000 floats (2.9 MB), whatever the format.
struct AudioEnvelope {
  double window_s = 0.02;
  std::vector<float> rms_dbfs;  // window i covers [i * window_s, (i + 1) * window_s)
  Loudness loudness;            // over the whole clip, as measure_loudness() gives it

  double duration_s() const { return window_s * static_cast<double>(rms_dbfs.size()); }
};

struct PauseSettings {
  double min_pause_s = 0.3;         // [longform] min_pause_s
  double below_speech_db = 25;      // [longform] pause_below_speech_db
  double speech_percentile = 0.95;  // the speech level: this percentile of the windows
  double floor_dbfs = -70;          // the threshold never goes below this
};

struct Pause {
  double start_s = 0;
  double end_s = 0;
  double quietest_dbfs = 0;  // the quietest window inside it
  double duration_s() const { return end_s - start_s; }
  double middle_s() const { return (start_s + end_s) / 2; }
};

// Decodes the audio stream of `info.file` once (constant memory besides the envelope).
// Throws Error no_audio_stream / not_decodable.
AudioEnvelope measure_envelope(const MediaInfo& info, double window_s = 0.02);

// The level below which a window counts as a pause: the speech level minus
// settings.below_speech_db, floored at settings.floor_dbfs. See speech_pauses.cpp for why.
double pause_threshold_dbfs(const AudioEnvelope& envelope, const PauseSettings& settings);
// The speech level: the settings.speech_percentile of the finite windows (-inf when none).
double speech_level_dbfs(const AudioEnvelope& envelope, const PauseSettings& settings);

// Every run of windows below the threshold lasting at least settings.min_pause_s, in order.
std::vector<Pause> find_pauses(const AudioEnvelope& envelope, const PauseSettings& settings);

// The same envelope, cut or padded with digital silence to `duration_s` (the output timeline:
// a video longer than the audio in silence mode plays on over silence).
AudioEnvelope fit_envelope(AudioEnvelope envelope, double duration_s);

}  // namespace lipsyncd::media
