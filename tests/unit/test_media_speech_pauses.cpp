// The speech-pause finder on audio made here: speech-like tone bursts (a voiced tone whose
// loudness varies like syllables) with silent gaps at known places, written as WAV and decoded
// through libav like any input; and the pure functions on envelopes made by hand.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <random>
#include <vector>

#include "lipsyncd/media/media_info.hpp"
#include "lipsyncd/media/speech_pauses.hpp"
#include "test_media.hpp"

namespace lipsyncd::media {
namespace {

constexpr int kRate = 16000;
constexpr float kSilence = -std::numeric_limits<float>::infinity();

struct Gap {
  double start_s;
  double end_s;
};

// `seconds` of "speech" at `speech_dbfs` peak: a 180 Hz tone with harmonics whose loudness
// follows 4 Hz syllables (never below a quarter), and room noise at `noise_dbfs` in the gaps.
std::vector<int16_t> speech_with_gaps(double seconds, const std::vector<Gap>& gaps,
                                      double speech_dbfs, double noise_dbfs) {
  std::mt19937 random(42);
  std::uniform_real_distribution<double> uniform(-1, 1);
  const double speech = std::pow(10, speech_dbfs / 20);
  const double noise = std::pow(10, noise_dbfs / 20) * std::sqrt(3.0);  // uniform: RMS = a/sqrt3
  std::vector<int16_t> samples(static_cast<size_t>(seconds * kRate));
  for (size_t i = 0; i < samples.size(); ++i) {
    const double t = static_cast<double>(i) / kRate;
    bool in_gap = false;
    for (const Gap& gap : gaps) in_gap = in_gap || (t >= gap.start_s && t < gap.end_s);
    double value = noise * uniform(random);
    if (!in_gap) {
      const double syllable = 0.25 + 0.75 * std::fabs(std::sin(2 * M_PI * 4 * t));
      const double voice = 0.6 * std::sin(2 * M_PI * 180 * t) + 0.3 * std::sin(2 * M_PI * 360 * t) +
                           0.1 * std::sin(2 * M_PI * 540 * t);
      value += speech * syllable * voice;
    }
    samples[i] = static_cast<int16_t>(std::lround(std::clamp(value, -1.0, 1.0) * 32767));
  }
  return samples;
}

void write_wav(const std::filesystem::path& file, const std::vector<int16_t>& samples) {
  std::ofstream out(file, std::ios::binary);
  const auto u32 = [&](uint32_t v) { out.write(reinterpret_cast<const char*>(&v), 4); };
  const auto u16 = [&](uint16_t v) { out.write(reinterpret_cast<const char*>(&v), 2); };
  const auto bytes = static_cast<uint32_t>(samples.size() * 2);
  out.write("RIFF", 4);
  u32(36 + bytes);
  out.write("WAVEfmt ", 8);
  u32(16);
  u16(1);  // PCM
  u16(1);  // mono
  u32(kRate);
  u32(kRate * 2);
  u16(2);
  u16(16);
  out.write("data", 4);
  u32(bytes);
  out.write(reinterpret_cast<const char*>(samples.data()), bytes);
}

AudioEnvelope envelope_of(const test::TempDir& dir, const std::vector<int16_t>& samples) {
  const auto file = dir / "speech.wav";
  write_wav(file, samples);
  return measure_envelope(probe(file));
}

// The found pauses are the gaps at least min_pause_s long, each to within one window.
void expect_pauses_at(const std::vector<Pause>& pauses, const std::vector<Gap>& expected,
                      double window_s) {
  ASSERT_EQ(pauses.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NEAR(pauses[i].start_s, expected[i].start_s, window_s + 1e-9) << "pause " << i;
    EXPECT_NEAR(pauses[i].end_s, expected[i].end_s, window_s + 1e-9) << "pause " << i;
  }
}

TEST(SpeechPauses, GapsInSpeechAreFoundAndTooShortOnesAreNot) {
  test::TempDir dir;
  // 5.0-5.5 and 20.0-21.0 are pauses; 12.0-12.2 is a breath, shorter than 0.3 s.
  const std::vector<Gap> gaps = {{5.0, 5.5}, {12.0, 12.2}, {20.0, 21.0}};
  const AudioEnvelope envelope = envelope_of(dir, speech_with_gaps(30, gaps, -6, -60));
  EXPECT_DOUBLE_EQ(envelope.window_s, 0.02);
  EXPECT_NEAR(envelope.duration_s(), 30, 0.02);
  // The harmonics never add up to the full amplitude: the peak stays a little under -6 dBFS.
  EXPECT_GT(envelope.loudness.peak_dbfs, -9);
  EXPECT_LT(envelope.loudness.peak_dbfs, -6);
  const PauseSettings settings;  // 0.3 s, 25 dB below the speech
  expect_pauses_at(find_pauses(envelope, settings), {{5.0, 5.5}, {20.0, 21.0}}, 0.02);
  PauseSettings breaths = settings;
  breaths.min_pause_s = 0.15;
  expect_pauses_at(find_pauses(envelope, breaths), gaps, 0.02);
}

TEST(SpeechPauses, ThresholdFollowsTheSpeechLevelSoAQuietRecordingFindsTheSamePauses) {
  test::TempDir dir;
  const std::vector<Gap> gaps = {{3.0, 3.6}, {8.0, 8.4}};
  // Speech 30 dB quieter, with room noise 35 dB below it: a fixed -50 dBFS threshold would
  // take its quiet syllables for pauses.
  const AudioEnvelope quiet = envelope_of(dir, speech_with_gaps(12, gaps, -36, -71));
  const PauseSettings settings;
  const double threshold = pause_threshold_dbfs(quiet, settings);
  EXPECT_NEAR(threshold, speech_level_dbfs(quiet, settings) - 25, 1e-6);
  EXPECT_LT(threshold, -55);  // far below a threshold that suits loud speech
  expect_pauses_at(find_pauses(quiet, settings), gaps, 0.02);
  // The speech itself is never a pause: its quietest syllable stays above the threshold.
  for (const Pause& pause : find_pauses(quiet, settings)) EXPECT_LT(pause.duration_s(), 0.7);
}

TEST(SpeechPauses, ThresholdNeverSinksBelowTheFloor) {
  AudioEnvelope envelope;
  envelope.rms_dbfs.assign(100, -85.0f);  // a whisper-quiet file
  const PauseSettings settings;
  EXPECT_DOUBLE_EQ(pause_threshold_dbfs(envelope, settings), -70);
  envelope.rms_dbfs.assign(100, kSilence);  // digital silence: the floor, one long pause
  EXPECT_DOUBLE_EQ(pause_threshold_dbfs(envelope, settings), -70);
  const auto pauses = find_pauses(envelope, settings);
  ASSERT_EQ(pauses.size(), 1u);
  EXPECT_DOUBLE_EQ(pauses[0].start_s, 0);
  EXPECT_NEAR(pauses[0].end_s, 2.0, 1e-9);
}

TEST(SpeechPauses, APauseNeedsMinPauseWindowsBelowTheThreshold) {
  AudioEnvelope envelope;  // 20 ms windows: speech at -20, quiet runs of 14, 15 and 40 windows
  const auto speech = [&](int n) { envelope.rms_dbfs.insert(envelope.rms_dbfs.end(), n, -20.0f); };
  const auto quiet = [&](int n) { envelope.rms_dbfs.insert(envelope.rms_dbfs.end(), n, -60.0f); };
  speech(200);
  quiet(14);  // 0.28 s: too short
  speech(200);
  quiet(15);  // 0.30 s
  speech(200);
  quiet(40);  // 0.80 s
  speech(50);
  const auto pauses = find_pauses(envelope, PauseSettings{});
  ASSERT_EQ(pauses.size(), 2u);
  EXPECT_NEAR(pauses[0].start_s, (200 + 14 + 200) * 0.02, 1e-9);
  EXPECT_NEAR(pauses[0].duration_s(), 0.30, 1e-9);
  EXPECT_NEAR(pauses[1].duration_s(), 0.80, 1e-9);
  EXPECT_DOUBLE_EQ(pauses[1].quietest_dbfs, -60);
}

TEST(SpeechPauses, FittingPadsWithSilenceOrCuts) {
  AudioEnvelope envelope;
  envelope.rms_dbfs.assign(50, -20.0f);  // 1 s
  const AudioEnvelope longer = fit_envelope(envelope, 2.0);
  ASSERT_EQ(longer.rms_dbfs.size(), 100u);
  EXPECT_EQ(longer.rms_dbfs[49], -20.0f);
  EXPECT_TRUE(std::isinf(longer.rms_dbfs[50]));
  EXPECT_EQ(fit_envelope(envelope, 0.5).rms_dbfs.size(), 25u);
  // The padded tail is a pause (a video playing on over silence).
  const auto pauses = find_pauses(longer, PauseSettings{});
  ASSERT_EQ(pauses.size(), 1u);
  EXPECT_NEAR(pauses[0].start_s, 1.0, 1e-9);
}

}  // namespace
}  // namespace lipsyncd::media
