// The original audio track of a stitched output: encoded once to AAC with libavcodec's native
// encoder, or copied packet for packet when encode_audio_track() made it beforehand.

#include "stitch_audio.hpp"

#include <algorithm>
#include <cmath>
#include <memory>

extern "C" {
#include <libavutil/audio_fifo.h>
}

#include "libav_error.hpp"
#include "libav_handles.hpp"
#include "lipsyncd/core/error.hpp"
#include "lipsyncd/media/stitch.hpp"
#include "stream_decoder.hpp"

namespace lipsyncd::media {
namespace {

struct AudioFifoDeleter {
  void operator()(AVAudioFifo* fifo) const noexcept { av_audio_fifo_free(fifo); }
};

// The whole original audio track, cut at the output's length, encoded to AAC (libavcodec's
// native encoder).
class AacTrack final : public AudioTrack {
 public:
  AacTrack(const std::filesystem::path& audio, OutputFile& output, double length_s)
      : file_(audio), decoder_(audio, AVMEDIA_TYPE_AUDIO, 1), output_(output) {
    AVCodecContext* input = decoder_.codec();
    rate_ = input->sample_rate;
    limit_ = std::llround(length_s * rate_);
    av_channel_layout_default(&layout_, std::min(2, std::max(1, input->ch_layout.nb_channels)));
    const AVCodec* aac = find_encoder("aac");
    encoder_.reset(avcodec_alloc_context3(aac));
    if (!encoder_) throw std::bad_alloc();
    encoder_->sample_fmt = AV_SAMPLE_FMT_FLTP;
    encoder_->sample_rate = rate_;
    libav::check(av_channel_layout_copy(&encoder_->ch_layout, &layout_), "not_decodable",
                 "cannot convert the audio of", file_);
    encoder_->bit_rate = 96000L * layout_.nb_channels;
    encoder_->time_base = {1, rate_};
    if ((output.context()->oformat->flags & AVFMT_GLOBALHEADER) != 0) {
      encoder_->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    }
    libav::check(avcodec_open2(encoder_.get(), aac, nullptr), "encoder_missing",
                 "cannot open the AAC encoder for", file_);
    stream_ = output.add_stream();
    libav::check(avcodec_parameters_from_context(stream_->codecpar, encoder_.get()), "disk_error",
                 "cannot prepare", file_);
    stream_->time_base = encoder_->time_base;

    SwrContext* raw = nullptr;
    libav::check(swr_alloc_set_opts2(&raw, &layout_, AV_SAMPLE_FMT_FLTP, rate_, &input->ch_layout,
                                     input->sample_fmt, input->sample_rate, 0, nullptr),
                 "not_decodable", "cannot convert the audio of", file_);
    resampler_.reset(raw);
    libav::check(swr_init(resampler_.get()), "not_decodable", "cannot convert the audio of", file_);
    fifo_.reset(av_audio_fifo_alloc(AV_SAMPLE_FMT_FLTP, layout_.nb_channels, 4 * 1024));
    if (!fifo_) throw std::bad_alloc();
  }
  ~AacTrack() { av_channel_layout_uninit(&layout_); }
  AacTrack(const AacTrack&) = delete;
  AacTrack& operator=(const AacTrack&) = delete;

  void write_until(double seconds) override {
    const int64_t wanted = std::min(limit_, static_cast<int64_t>(std::ceil(seconds * rate_)));
    while (!finished_ && encoded_ < wanted) step();
  }
  void finish() override {
    while (!finished_) step();
  }

 private:
  void step() {
    const int frame_size = encoder_->frame_size;
    if (av_audio_fifo_size(fifo_.get()) >= frame_size) {
      encode_from_fifo(frame_size);
    } else if (!input_done_) {
      read_more();
    } else {
      if (av_audio_fifo_size(fifo_.get()) > 0) encode_from_fifo(av_audio_fifo_size(fifo_.get()));
      send(nullptr);
      finished_ = true;
    }
  }

  // One decoded frame through the resampler into the FIFO, at most up to the length.
  void read_more() {
    const AVFrame* frame = decoder_.next_frame();
    if (frame == nullptr) {
      convert(nullptr);  // what the resampler still holds
      input_done_ = true;
      return;
    }
    convert(frame);
    if (queued_ >= limit_) input_done_ = true;
  }

  void convert(const AVFrame* input) {
    const int in_samples = input != nullptr ? input->nb_samples : 0;
    const int capacity = swr_get_out_samples(resampler_.get(), in_samples) + 32;
    av_frame_unref(scratch_.get());
    scratch_->format = AV_SAMPLE_FMT_FLTP;
    scratch_->sample_rate = rate_;
    libav::check(av_channel_layout_copy(&scratch_->ch_layout, &layout_), "not_decodable",
                 "cannot convert the audio of", file_);
    scratch_->nb_samples = capacity;
    libav::check(av_frame_get_buffer(scratch_.get(), 0), "not_decodable",
                 "cannot convert the audio of", file_);
    const int produced = swr_convert(
        resampler_.get(), scratch_->data, capacity,
        input != nullptr ? const_cast<const uint8_t**>(input->extended_data) : nullptr, in_samples);
    libav::check(produced, "not_decodable", "cannot convert the audio of", file_);
    const int keep = static_cast<int>(std::min<int64_t>(produced, limit_ - queued_));
    if (keep <= 0) return;
    if (av_audio_fifo_write(fifo_.get(), reinterpret_cast<void**>(scratch_->data), keep) < keep) {
      throw std::bad_alloc();
    }
    queued_ += keep;
  }

  void encode_from_fifo(int samples) {
    av_frame_unref(scratch_.get());
    scratch_->format = AV_SAMPLE_FMT_FLTP;
    scratch_->sample_rate = rate_;
    libav::check(av_channel_layout_copy(&scratch_->ch_layout, &layout_), "not_decodable",
                 "cannot convert the audio of", file_);
    scratch_->nb_samples = samples;
    libav::check(av_frame_get_buffer(scratch_.get(), 0), "not_decodable",
                 "cannot convert the audio of", file_);
    av_audio_fifo_read(fifo_.get(), reinterpret_cast<void**>(scratch_->data), samples);
    scratch_->pts = encoded_;
    encoded_ += samples;
    send(scratch_.get());
  }

  void send(const AVFrame* frame) {
    libav::check(avcodec_send_frame(encoder_.get(), frame), "not_decodable",
                 "cannot encode the audio of", file_);
    while (true) {
      const int got = avcodec_receive_packet(encoder_.get(), packet_.get());
      if (got == AVERROR(EAGAIN) || got == AVERROR_EOF) return;
      libav::check(got, "not_decodable", "cannot encode the audio of", file_);
      av_packet_rescale_ts(packet_.get(), encoder_->time_base, stream_->time_base);
      packet_->stream_index = stream_->index;
      output_.write(packet_.get());
    }
  }

  std::filesystem::path file_;
  StreamDecoder decoder_;
  OutputFile& output_;
  int rate_ = 0;
  int64_t limit_ = 0;    // samples of the output timeline
  int64_t queued_ = 0;   // samples put into the FIFO so far
  int64_t encoded_ = 0;  // samples given to the encoder so far
  bool input_done_ = false;
  bool finished_ = false;
  AVChannelLayout layout_{};
  libav::CodecContext encoder_;
  AVStream* stream_ = nullptr;  // owned by output_
  libav::Swr resampler_;
  std::unique_ptr<AVAudioFifo, AudioFifoDeleter> fifo_;
  libav::Frame scratch_ = libav::make_frame();
  libav::Packet packet_ = libav::make_packet();
};

// A track encode_audio_track() made: its AAC packets copied, those starting at or after the
// output's length left out.
class CopiedAacTrack final : public AudioTrack {
 public:
  CopiedAacTrack(const std::filesystem::path& audio, OutputFile& output, double length_s)
      : file_(audio), input_(open_input(audio)), output_(output) {
    const int index = av_find_best_stream(input_.get(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
    libav::check(index, "no_audio_stream", "no audio stream in", audio);
    in_stream_ = input_->streams[index];
    for (unsigned i = 0; i < input_->nb_streams; ++i) {
      if (static_cast<int>(i) != index) input_->streams[i]->discard = AVDISCARD_ALL;
    }
    limit_ = std::llround(length_s / av_q2d(in_stream_->time_base));
    stream_ = output.add_stream();
    libav::check(avcodec_parameters_copy(stream_->codecpar, in_stream_->codecpar), "disk_error",
                 "cannot prepare", audio);
    stream_->codecpar->codec_tag = 0;
    stream_->time_base = in_stream_->time_base;
  }

  void write_until(double seconds) override {
    while (!finished_ && written_until_s_ < seconds) copy_one();
  }
  void finish() override {
    while (!finished_) copy_one();
  }

 private:
  void copy_one() {
    const int read = av_read_frame(input_.get(), packet_.get());
    if (read == AVERROR_EOF) {
      finished_ = true;
      return;
    }
    libav::check(read, "not_decodable", "cannot read", file_);
    if (packet_->stream_index == in_stream_->index &&
        (packet_->pts == AV_NOPTS_VALUE || packet_->pts < limit_)) {
      if (packet_->pts != AV_NOPTS_VALUE) {
        written_until_s_ = static_cast<double>(packet_->pts) * av_q2d(in_stream_->time_base);
      }
      av_packet_rescale_ts(packet_.get(), in_stream_->time_base, stream_->time_base);
      packet_->stream_index = stream_->index;
      packet_->pos = -1;
      output_.write(packet_.get());
    } else if (packet_->stream_index == in_stream_->index) {
      finished_ = true;  // past the output's length
    }
    av_packet_unref(packet_.get());
  }

  std::filesystem::path file_;
  libav::InputFormat input_;
  OutputFile& output_;
  AVStream* in_stream_ = nullptr;  // owned by input_
  AVStream* stream_ = nullptr;     // owned by output_
  int64_t limit_ = 0;              // the output's length in the input's time base
  double written_until_s_ = 0;
  bool finished_ = false;
  libav::Packet packet_ = libav::make_packet();
};

}  // namespace

std::unique_ptr<AudioTrack> audio_track(const std::filesystem::path& audio, OutputFile& output,
                                        double length_s) {
  const bool aac = [&] {
    const libav::InputFormat input = open_input(audio);
    const int index = av_find_best_stream(input.get(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
    return index >= 0 && input->streams[index]->codecpar->codec_id == AV_CODEC_ID_AAC;
  }();
  if (aac) return std::make_unique<CopiedAacTrack>(audio, output, length_s);
  return std::make_unique<AacTrack>(audio, output, length_s);
}

NormalizedFile encode_audio_track(const MediaInfo& audio, double length_s,
                                  const std::filesystem::path& destination) {
  libav::initialize();
  if (!audio.audio) {
    throw Error("no_audio_stream", audio.file.filename().string() + " has no audio stream.");
  }
  OutputFile output(destination, "mp4");
  AacTrack track(audio.file, output, length_s);
  output.write_header(true);
  track.finish();
  output.finish();
  return {destination, std::min(length_s, audio_seconds(audio)), NormalizeMethod::transcode};
}

}  // namespace lipsyncd::media
