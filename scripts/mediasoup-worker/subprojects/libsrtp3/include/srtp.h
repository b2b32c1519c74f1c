/*
 * libsrtp 3.x API subset, as called by mediasoup-worker 3.19, mapped onto Debian's libsrtp 2.x.
 *
 * Differences bridged here (C++ overloads next to libsrtp2's C functions):
 *  - 3.x protect/unprotect take separate input and output buffers, size_t lengths and, for protect, an MKI index;
 *    2.x works in place on one buffer with an int length. We copy into the output buffer (which must hold the
 *    packet plus SRTP_MAX_TRAILER_LEN, as in 2.x) and run 2.x in place there.
 *  - 3.x renamed srtp_remove_stream() to srtp_stream_remove() (same arguments: session, SSRC in network order).
 *  - 3.x added two error codes; they get values past the last 2.x one and are never returned by 2.x.
 */
#ifndef LIPSYNC_SRTP3_COMPAT_H
#define LIPSYNC_SRTP3_COMPAT_H

#include <srtp2/srtp.h>

#ifdef __cplusplus

#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>

static constexpr srtp_err_status_t srtp_err_status_buffer_small = static_cast<srtp_err_status_t>(28);
static constexpr srtp_err_status_t srtp_err_status_cryptex_err = static_cast<srtp_err_status_t>(29);

namespace lipsync_srtp3_compat
{
	typedef srtp_err_status_t (*InPlaceFn)(srtp_t, void*, int*);

	inline srtp_err_status_t Run(
	  InPlaceFn fn,
	  srtp_t ctx,
	  const uint8_t* in,
	  size_t inLen,
	  uint8_t* out,
	  size_t* outLen,
	  size_t trailerRoom)
	{
		if (inLen > static_cast<size_t>(INT_MAX) - trailerRoom || *outLen < inLen + trailerRoom)
		{
			return srtp_err_status_buffer_small;
		}

		if (out != in)
		{
			std::memmove(out, in, inLen);
		}

		int len = static_cast<int>(inLen);
		const srtp_err_status_t err = fn(ctx, out, &len);

		if (err == srtp_err_status_ok)
		{
			*outLen = static_cast<size_t>(len);
		}

		return err;
	}
} // namespace lipsync_srtp3_compat

inline srtp_err_status_t srtp_protect(
  srtp_t ctx, const uint8_t* rtp, size_t rtpLen, uint8_t* srtp, size_t* srtpLen, size_t mkiIndex)
{
	if (mkiIndex != 0)
	{
		return srtp_err_status_bad_mki;
	}

	return lipsync_srtp3_compat::Run(
	  ::srtp_protect, ctx, rtp, rtpLen, srtp, srtpLen, SRTP_MAX_TRAILER_LEN);
}

inline srtp_err_status_t srtp_unprotect(
  srtp_t ctx, const uint8_t* srtp, size_t srtpLen, uint8_t* rtp, size_t* rtpLen)
{
	return lipsync_srtp3_compat::Run(::srtp_unprotect, ctx, srtp, srtpLen, rtp, rtpLen, 0);
}

inline srtp_err_status_t srtp_protect_rtcp(
  srtp_t ctx, const uint8_t* rtcp, size_t rtcpLen, uint8_t* srtcp, size_t* srtcpLen, size_t mkiIndex)
{
	if (mkiIndex != 0)
	{
		return srtp_err_status_bad_mki;
	}

	// SRTCP adds the 4-byte E flag + index word on top of the tag.
	return lipsync_srtp3_compat::Run(
	  ::srtp_protect_rtcp, ctx, rtcp, rtcpLen, srtcp, srtcpLen, SRTP_MAX_TRAILER_LEN + 4);
}

inline srtp_err_status_t srtp_unprotect_rtcp(
  srtp_t ctx, const uint8_t* srtcp, size_t srtcpLen, uint8_t* rtcp, size_t* rtcpLen)
{
	return lipsync_srtp3_compat::Run(::srtp_unprotect_rtcp, ctx, srtcp, srtcpLen, rtcp, rtcpLen, 0);
}

inline srtp_err_status_t srtp_stream_remove(srtp_t session, uint32_t ssrc)
{
	return srtp_remove_stream(session, ssrc);
}

#endif /* __cplusplus */

#endif /* LIPSYNC_SRTP3_COMPAT_H */
