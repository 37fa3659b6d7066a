#pragma once
// Synthetic media for the media module's tests, made with the ffmpeg CLI (a moving test pattern,
// a tone) and read back with libav (pictures by checksum, WAV samples, compressed packets).
// Header-only; the including test links lipsyncd_media (and so libav).

#include <gtest/gtest.h>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
}

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "lipsyncd/config/config.hpp"
#include "lipsyncd/core/error.hpp"
#include "test_media.hpp"

namespace lipsyncd::media::synthetic {

namespace fs = std::filesystem;

inline constexpr double kFrame = 1.0 / 25;  // every video made here runs at 25 fps

inline void ffmpeg(const test::TempDir& dir, std::vector<std::string> arguments) {
  std::vector<std::string> argv = {"/usr/bin/ffmpeg", "-nostdin", "-v", "error", "-y"};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  ASSERT_EQ(test::run_to_completion(argv, dir / "ffmpeg.log"), 0)
      << test::read_text(dir / "ffmpeg.log");
}

// A moving test pattern starting `from_s` into it, 25 fps, H.264 yuv420p without audio, a
// keyframe every `gop` frames; veryfast has B-frames, so seams meet reordered frames.
inline fs::path pattern_video(const test::TempDir& dir, const std::string& name, double seconds,
                              double from_s = 0, int gop = 25,
                              const std::string& size = "160x120") {
  const fs::path file = dir / name;
  ffmpeg(dir, {"-f",
               "lavfi",
               "-i",
               "testsrc2=size=" + size + ":rate=25",
               "-ss",
               std::to_string(from_s),
               "-t",
               std::to_string(seconds),
               "-c:v",
               "libx264",
               "-preset",
               "veryfast",
               "-g",
               std::to_string(gop),
               "-keyint_min",
               std::to_string(gop),
               "-sc_threshold",
               "0",
               "-pix_fmt",
               "yuv420p",
               "-an",
               "-movflags",
               "+faststart",
               file.string()});
  return file;
}

inline fs::path tone_wav(const test::TempDir& dir, const std::string& name, double seconds,
                         int frequency = 440) {
  const fs::path file = dir / name;
  ffmpeg(dir,
         {"-f", "lavfi", "-i", "sine=frequency=" + std::to_string(frequency) + ":sample_rate=16000",
          "-t", std::to_string(seconds), "-c:a", "pcm_s16le", "-map_metadata", "-1", "-fflags",
          "+bitexact", file.string()});
  return file;
}

inline MediaConfig lossless() {
  MediaConfig config;
  config.x264_preset = "ultrafast";
  config.x264_crf = 0;  // lossless: a re-encoded picture equals its source
  return config;
}

struct Picture {
  double seconds = 0;
  std::uint64_t checksum = 0;
};

// Every picture of the shown video stream, in presentation order, with a checksum of its planes.
inline std::vector<Picture> pictures_of(const fs::path& file) {
  std::vector<Picture> pictures;
  AVFormatContext* format = nullptr;
  EXPECT_EQ(avformat_open_input(&format, file.c_str(), nullptr, nullptr), 0);
  if (format == nullptr) return pictures;
  EXPECT_GE(avformat_find_stream_info(format, nullptr), 0);
  const AVCodec* codec = nullptr;
  const int index = av_find_best_stream(format, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
  EXPECT_GE(index, 0);
  AVStream* stream = format->streams[index];
  AVCodecContext* decoder = avcodec_alloc_context3(codec);
  avcodec_parameters_to_context(decoder, stream->codecpar);
  EXPECT_EQ(avcodec_open2(decoder, codec, nullptr), 0);
  AVPacket* packet = av_packet_alloc();
  AVFrame* frame = av_frame_alloc();
  const auto drain = [&] {
    while (avcodec_receive_frame(decoder, frame) == 0) {
      std::uint64_t hash = 1469598103934665603ULL;
      for (int plane = 0; plane < 3; ++plane) {
        const int rows = plane == 0 ? frame->height : (frame->height + 1) / 2;
        const int width = plane == 0 ? frame->width : (frame->width + 1) / 2;
        for (int y = 0; y < rows; ++y) {
          const std::uint8_t* row =
              frame->data[plane] + static_cast<long>(y) * frame->linesize[plane];
          for (int x = 0; x < width; ++x) hash = (hash ^ row[x]) * 1099511628211ULL;
        }
      }
      const int64_t start = stream->start_time == AV_NOPTS_VALUE ? 0 : stream->start_time;
      pictures.push_back(
          {static_cast<double>(frame->best_effort_timestamp - start) * av_q2d(stream->time_base),
           hash});
      av_frame_unref(frame);
    }
  };
  while (av_read_frame(format, packet) >= 0) {
    if (packet->stream_index == index) {
      avcodec_send_packet(decoder, packet);
      drain();
    }
    av_packet_unref(packet);
  }
  avcodec_send_packet(decoder, nullptr);
  drain();
  av_frame_free(&frame);
  av_packet_free(&packet);
  avcodec_free_context(&decoder);
  avformat_close_input(&format);
  return pictures;
}

// The compressed packets of a file's audio stream, in order.
inline std::vector<std::string> audio_packets(const fs::path& file) {
  std::vector<std::string> packets;
  AVFormatContext* format = nullptr;
  EXPECT_EQ(avformat_open_input(&format, file.c_str(), nullptr, nullptr), 0);
  if (format == nullptr) return packets;
  EXPECT_GE(avformat_find_stream_info(format, nullptr), 0);
  const int index = av_find_best_stream(format, AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
  AVPacket* packet = av_packet_alloc();
  while (av_read_frame(format, packet) >= 0) {
    if (packet->stream_index == index) {
      packets.emplace_back(reinterpret_cast<const char*>(packet->data),
                           static_cast<size_t>(packet->size));
    }
    av_packet_unref(packet);
  }
  av_packet_free(&packet);
  avformat_close_input(&format);
  return packets;
}

// The samples of a mono s16le WAV.
inline std::vector<std::int16_t> samples_of(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::size_t at = 12;
  while (at + 8 <= bytes.size()) {
    std::uint32_t size = 0;
    std::memcpy(&size, bytes.data() + at + 4, 4);
    if (bytes.compare(at, 4, "data") == 0) {
      std::vector<std::int16_t> samples(std::min<std::size_t>(size, bytes.size() - at - 8) / 2);
      std::memcpy(samples.data(), bytes.data() + at + 8, samples.size() * 2);
      return samples;
    }
    at += 8 + size + (size % 2);
  }
  ADD_FAILURE() << "no data chunk in " << file;
  return {};
}

inline std::string reason_of(const std::function<void()>& action, std::string* message = nullptr) {
  try {
    action();
  } catch (const Error& error) {
    if (message != nullptr) *message = error.what();
    return error.reason_code();
  }
  return "no error";
}

}  // namespace lipsyncd::media::synthetic
