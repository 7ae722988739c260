package delta

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
	"github.com/pierrec/lz4/v4"
)

// Why a guard before parquet-go reads a checkpoint: it sizes its buffers from what the file
// declares, so a damaged page header could make it allocate gigabytes, and its LZ4 decoder
// doubles its buffer on any error, including corrupt data, until memory runs out. That is
// what stalled FuzzParseCheckpoint. checkPages walks every page header first and refuses a
// file whose pages declare more than a real checkpoint of its size could hold.

// errDeclaredTooLarge marks a checkpoint whose pages declare more than its size allows.
var errDeclaredTooLarge = errors.New("its pages declare more data than a checkpoint of its size can hold")

// checkpointBudget is what the pages of a checkpoint of n bytes may declare in all, in bytes
// once decompressed plus one per value: 1 MiB plus 100 times the file, well beyond the ratios
// real checkpoints compress at (about 10:1: every row carries a distinct file path).
func checkpointBudget(n int) int64 { return 1<<20 + 100*int64(n) }

// checkPages checks every column chunk of a Parquet file held in data: its pages lie inside
// it, their declared sizes and value counts stay within checkpointBudget, and a page
// compressed with LZ4, Snappy or Zstd does not decompress beyond what its header declares.
func checkPages(f *parquet.File, data []byte) error {
	budget := checkpointBudget(len(data))
	var proto thrift.CompactProtocol
	for _, rg := range f.Metadata().RowGroups {
		for _, cc := range rg.Columns {
			m := cc.MetaData
			start := m.DataPageOffset
			if m.DictionaryPageOffset > 0 && m.DictionaryPageOffset < start {
				start = m.DictionaryPageOffset
			}
			end := start + m.TotalCompressedSize
			if start < 0 || m.TotalCompressedSize < 0 || end < start || end > int64(len(data)) {
				return fmt.Errorf("a column chunk at [%d, %d) lies outside the %d-byte file", start, end, len(data))
			}
			for off := start; off < end; {
				r := bytes.NewReader(data[off:end])
				var h format.PageHeader
				if err := thrift.NewDecoder(proto.NewReader(r)).Decode(&h); err != nil {
					return fmt.Errorf("page header at %d: %w", off, err)
				}
				body := off + int64(r.Size()) - int64(r.Len())
				if h.CompressedPageSize < 0 || h.UncompressedPageSize < 0 || body+int64(h.CompressedPageSize) > end {
					return fmt.Errorf("page at %d: %d bytes, its column chunk ends at %d", off, h.CompressedPageSize, end)
				}
				budget -= int64(h.UncompressedPageSize) + pageValues(&h)
				if budget < 0 {
					return errDeclaredTooLarge
				}
				page := data[body : body+int64(h.CompressedPageSize)]
				if err := checkCompressed(m.Codec, &h, page); err != nil {
					return fmt.Errorf("page at %d: %w", off, err)
				}
				off = body + int64(h.CompressedPageSize)
			}
		}
	}
	return nil
}

func pageValues(h *format.PageHeader) int64 {
	var n int64
	if h.DataPageHeader.Valid {
		n += int64(max(h.DataPageHeader.V.NumValues, 0))
	}
	if h.DataPageHeaderV2.Valid {
		n += int64(max(h.DataPageHeaderV2.V.NumValues, 0))
	}
	if h.DictionaryPageHeader.Valid {
		n += int64(max(h.DictionaryPageHeader.V.NumValues, 0))
	}
	return n
}

// checkCompressed verifies that a compressed page holds no more than its header declares, for
// the codecs whose decoders trust the data: LZ4 (decoded here into a buffer of the declared
// size), Snappy (its length prefix) and Zstd (the frame's content size, when it states one).
func checkCompressed(codec format.CompressionCodec, h *format.PageHeader, page []byte) error {
	want := int(h.UncompressedPageSize)
	if v2 := h.DataPageHeaderV2; v2.Valid {
		// A v2 page's levels precede its compressed values, uncompressed.
		levels := int(v2.V.RepetitionLevelsByteLength) + int(v2.V.DefinitionLevelsByteLength)
		if levels < 0 || levels > len(page) || levels > want {
			return fmt.Errorf("levels of %d bytes in a page of %d", levels, len(page))
		}
		if v2.V.IsCompressed.Valid && !v2.V.IsCompressed.V {
			return nil
		}
		page, want = page[levels:], want-levels
	}
	switch codec {
	case format.Lz4Raw:
		n, err := lz4.UncompressBlock(page, make([]byte, want))
		if err != nil || n != want {
			return fmt.Errorf("LZ4 data does not decode to the %d bytes declared", want)
		}
	case format.Snappy:
		n, err := snappy.DecodedLen(page)
		if err != nil || n != want {
			return fmt.Errorf("Snappy data of %d bytes, %d declared (%v)", n, want, err)
		}
	case format.Zstd:
		var zh zstd.Header
		if err := zh.Decode(page); err == nil && zh.HasFCS && zh.FrameContentSize > uint64(want) {
			return fmt.Errorf("Zstd frame of %d bytes, %d declared", zh.FrameContentSize, want)
		}
	}
	return nil
}
