// Writing the audio: a resampling transcode to 16-bit PCM WAV, or a byte-for-byte copy.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string_view>
#include <vector>

#include "libav_error.hpp"
#include "libav_handles.hpp"
#include "lipsyncd/core/atomic_file.hpp"
#include "lipsyncd/core/error.hpp"
#include "output_file.hpp"
#include "stream_decoder.hpp"
#include "stream_writers.hpp"

extern "C" {
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
}

namespace lipsyncd::media {

NormalizedFile transcode_audio(const MediaInfo& info, TimeSpan span,
                               const std::filesystem::path& destination, const MediaConfig& config,
                               AudioPadding padding) {
  StreamDecoder decoder(info.file, AVMEDIA_TYPE_AUDIO, 1);
  AVCodecContext* codec = decoder.codec();
  const int rate = config.audio_sample_rate > 0 ? config.audio_sample_rate : codec->sample_rate;
  AVChannelLayout layout;
  // Speech needs no surround: more than two channels are mixed down to stereo.
  av_channel_layout_default(&layout, std::min(2, std::max(1, codec->ch_layout.nb_channels)));

  SwrContext* raw = nullptr;
  libav::check(swr_alloc_set_opts2(&raw, &layout, AV_SAMPLE_FMT_S16, rate, &codec->ch_layout,
                                   codec->sample_fmt, codec->sample_rate, 0, nullptr),
               "not_decodable", "cannot convert the audio of", info.file);
  libav::Swr resampler(raw);
  libav::check(swr_init(resampler.get()), "not_decodable", "cannot convert the audio of",
               info.file);

  OutputFile output(destination, "wav");
  const AVCodec* pcm = find_encoder("pcm_s16le");
  libav::CodecContext encoder(avcodec_alloc_context3(pcm));
  if (!encoder) throw std::bad_alloc();
  encoder->sample_fmt = AV_SAMPLE_FMT_S16;
  encoder->sample_rate = rate;
  libav::check(av_channel_layout_copy(&encoder->ch_layout, &layout), "not_decodable",
               "cannot convert the audio of", info.file);
  encoder->time_base = {1, rate};
  libav::check(avcodec_open2(encoder.get(), pcm, nullptr), "encoder_missing",
               "cannot open the PCM encoder for", info.file);
  AVStream* stream = output.add_stream();
  libav::check(avcodec_parameters_from_context(stream->codecpar, encoder.get()), "disk_error",
               "cannot prepare", info.file);
  stream->time_base = encoder->time_base;
  output.write_header(false);

  const int64_t skip = std::llround(span.start_s * rate);
  const int64_t limit = span.duration_s > 0 ? std::llround(span.end_s() * rate) : INT64_MAX;
  int64_t position = 0;  // output samples produced so far, skipped ones included
  int64_t written = 0;
  libav::Frame converted = libav::make_frame();
  libav::Packet packet = libav::make_packet();

  const auto encode = [&](const AVFrame* frame) {
    libav::check(avcodec_send_frame(encoder.get(), frame), "not_decodable", "cannot encode",
                 info.file);
    while (avcodec_receive_packet(encoder.get(), packet.get()) == 0) {
      av_packet_rescale_ts(packet.get(), encoder->time_base, stream->time_base);
      packet->stream_index = stream->index;
      output.write(packet.get());
    }
  };
  // Converts (or, with no input, flushes) and writes the part inside the span.
  const auto convert_and_write = [&](const AVFrame* input) {
    const int in_samples = input != nullptr ? input->nb_samples : 0;
    const int capacity = swr_get_out_samples(resampler.get(), in_samples) + 32;
    av_frame_unref(converted.get());
    converted->format = AV_SAMPLE_FMT_S16;
    converted->sample_rate = rate;
    libav::check(av_channel_layout_copy(&converted->ch_layout, &layout), "not_decodable",
                 "cannot convert the audio of", info.file);
    converted->nb_samples = capacity;
    libav::check(av_frame_get_buffer(converted.get(), 0), "not_decodable",
                 "cannot convert the audio of", info.file);
    const int produced = swr_convert(
        resampler.get(), converted->data, capacity,
        input != nullptr ? const_cast<const uint8_t**>(input->extended_data) : nullptr, in_samples);
    libav::check(produced, "not_decodable", "cannot convert the audio of", info.file);
    int64_t begin = std::max<int64_t>(0, skip - position);
    int64_t end = std::min<int64_t>(produced, limit - position);
    position += produced;
    if (end <= begin) return;
    const int bytes_per_sample = 2 * layout.nb_channels;
    if (begin > 0) {
      std::memmove(converted->data[0], converted->data[0] + begin * bytes_per_sample,
                   static_cast<size_t>((end - begin) * bytes_per_sample));
    }
    converted->nb_samples = static_cast<int>(end - begin);
    converted->pts = written;
    written += end - begin;
    encode(converted.get());
  };

  // Digital silence (zero samples) in frames of at most 4096 samples.
  const auto write_silence = [&](int64_t samples) {
    constexpr int64_t kChunk = 4096;
    while (samples > 0) {
      av_frame_unref(converted.get());
      converted->format = AV_SAMPLE_FMT_S16;
      converted->sample_rate = rate;
      libav::check(av_channel_layout_copy(&converted->ch_layout, &layout), "not_decodable",
                   "cannot convert the audio of", info.file);
      converted->nb_samples = static_cast<int>(std::min(samples, kChunk));
      libav::check(av_frame_get_buffer(converted.get(), 0), "not_decodable",
                   "cannot convert the audio of", info.file);
      std::memset(converted->data[0], 0,
                  static_cast<size_t>(converted->nb_samples) * 2 * layout.nb_channels);
      converted->pts = written;
      written += converted->nb_samples;
      samples -= converted->nb_samples;
      encode(converted.get());
    }
  };

  while (const AVFrame* frame = decoder.next_frame()) {
    convert_and_write(frame);
    if (position >= limit) break;
  }
  if (position < limit) convert_and_write(nullptr);
  if (padding == AudioPadding::silence_to_span && span.duration_s > 0) {
    write_silence(limit - skip - written);
  }
  encode(nullptr);
  output.finish();
  av_channel_layout_uninit(&layout);
  return {destination, static_cast<double>(written) / rate, NormalizeMethod::transcode};
}

NormalizedFile copy_audio(const MediaInfo& info, const std::filesystem::path& destination) {
  std::ifstream in(info.file, std::ios::binary);
  if (!in) {
    throw Error("file_not_found", "cannot read " + info.file.string() + ".",
                "check the path and the file's permissions");
  }
  AtomicFile out(destination);
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    out.write(std::string_view(buffer.data(), static_cast<size_t>(in.gcount())));
  }
  out.commit();
  return {destination, info.audio->duration_s, NormalizeMethod::pass_through};
}

}  // namespace lipsyncd::media
