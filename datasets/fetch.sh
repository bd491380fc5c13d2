#!/usr/bin/env bash
# Downloads a dataset from its canonical source into DIR and verifies it
# against the checksums recorded in datasets/README.md. Run it again to
# resume: files already present and verified are kept.
#
# Usage: datasets/fetch.sh NAME DIR
#   NAME: mnist, fashion-mnist, cifar10 or cifar100
#   then: pepita train --dataset NAME --data DIR   (or PEPITA_DATA=DIR)
# PEPITA_FETCH_MIRROR=URL downloads from URL instead (a directory holding the
# same file names as the canonical source, e.g. file:///srv/mirror/mnist).
set -euo pipefail

usage() {
    echo "usage: $0 NAME DIR   (NAME: mnist, fashion-mnist, cifar10, cifar100)" >&2
    exit 2
}

die() {
    echo "fetch.sh: $*" >&2
    exit 1
}

[[ $# -eq 2 ]] || usage
name=$1
dir=$2

IDX_FILES=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)

# SHA-256 of the uncompressed files (datasets/README.md).
sha256_of_file() {
    case $1 in
    mnist/train-images-idx3-ubyte) echo ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db ;;
    mnist/train-labels-idx1-ubyte) echo 65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5 ;;
    mnist/t10k-images-idx3-ubyte) echo 0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7 ;;
    mnist/t10k-labels-idx1-ubyte) echo ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2 ;;
    fashion-mnist/train-images-idx3-ubyte) echo c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888 ;;
    fashion-mnist/train-labels-idx1-ubyte) echo bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9 ;;
    fashion-mnist/t10k-images-idx3-ubyte) echo 5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b ;;
    fashion-mnist/t10k-labels-idx1-ubyte) echo 0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34 ;;
    cifar10/data_batch_1.bin) echo cee916563c9f80d84e3cc88e17fdc0941787f1244f00a67874d45b261883ada5 ;;
    cifar10/data_batch_2.bin) echo a591ca11fa1708a91ee40f54b3da4784ccd871ecf2137de63f51ada8b3fa57ed ;;
    cifar10/data_batch_3.bin) echo bbe8596564c0f86427f876058170b84dac6670ddf06d79402899d93ceea26f67 ;;
    cifar10/data_batch_4.bin) echo 014e562d6e23c72197cc727519169a60359f5eccd8945ad5a09d710285ff4e48 ;;
    cifar10/data_batch_5.bin) echo 755304fc0b379caeae8c14f0dac912fbc7d6cd469eb67a1029a08a39453a9add ;;
    cifar10/test_batch.bin) echo 8e2eb146ae340b09e24670f29cabc6326dba54da8789dab6768acf480273f65b ;;
    *) die "no checksum recorded for $1" ;;
    esac
}

need() {
    command -v "$1" >/dev/null 2>&1 || die "needs $1"
}

download() { # URL DEST
    if command -v curl >/dev/null 2>&1; then
        curl -fsSL --retry 3 --connect-timeout 30 -o "$2" "$1"
    elif command -v wget >/dev/null 2>&1; then
        wget -q --tries=3 --timeout=30 -O "$2" "$1"
    else
        die "needs curl or wget"
    fi
}

# Downloads FILE into DEST from the first base URL that serves it.
download_from() { # FILE DEST BASE...
    local file=$1 dest=$2 base
    shift 2
    for base in "$@"; do
        echo "fetch.sh: downloading $base/$file" >&2
        if download "$base/$file" "$dest"; then
            return 0
        fi
        echo "fetch.sh: $base/$file failed" >&2
    done
    rm -f "$dest"
    die "could not download $file"
}

# The SHA-256 of a gzip file's uncompressed content.
gunzipped_sha256() {
    gzip -dc "$1" | sha256sum | cut -d' ' -f1
}

# MNIST-like datasets: keep the four .gz files, verified uncompressed.
fetch_idx() { # DATASET BASE...
    local dataset=$1 file expected part
    shift
    need gzip
    for file in "${IDX_FILES[@]}"; do
        expected=$(sha256_of_file "$dataset/$file")
        if [[ -f $dir/$file.gz ]] && [[ $(gunzipped_sha256 "$dir/$file.gz") == "$expected" ]]; then
            echo "fetch.sh: $dir/$file.gz already present and verified" >&2
            continue
        fi
        part=$dir/$file.gz.part
        download_from "$file.gz" "$part" "$@"
        local actual
        actual=$(gunzipped_sha256 "$part") || {
            rm -f "$part"
            die "$file.gz: not a valid gzip file"
        }
        if [[ $actual != "$expected" ]]; then
            rm -f "$part"
            die "$file.gz: uncompressed SHA-256 is $actual, expected $expected"
        fi
        mv "$part" "$dir/$file.gz"
    done
}

# CIFAR: download the canonical tarball, check its MD5 (the one the CIFAR page
# publishes), unpack it into DIR (giving SUBDIR/) and delete it.
fetch_cifar() { # URL MD5 SUBDIR
    local url=$1 md5=$2 subdir=$3 archive actual
    need tar
    need md5sum
    archive=$dir/$(basename "$url").part
    if [[ -n ${PEPITA_FETCH_MIRROR:-} ]]; then
        url=${PEPITA_FETCH_MIRROR%/}/$(basename "$url")
    fi
    download_from "$(basename "$url")" "$archive" "$(dirname "$url")"
    actual=$(md5sum "$archive" | cut -d' ' -f1)
    if [[ $actual != "$md5" ]]; then
        rm -f "$archive"
        die "$(basename "$url"): MD5 is $actual, expected $md5"
    fi
    tar -xzf "$archive" -C "$dir" --no-same-owner
    rm -f "$archive"
    [[ -d $dir/$subdir ]] || die "the archive did not unpack to $subdir/"
}

verify_cifar10() {
    local file expected actual
    for file in data_batch_1.bin data_batch_2.bin data_batch_3.bin data_batch_4.bin \
        data_batch_5.bin test_batch.bin; do
        expected=$(sha256_of_file "cifar10/$file")
        actual=$(sha256sum "$dir/cifar-10-batches-bin/$file" | cut -d' ' -f1)
        [[ $actual == "$expected" ]] || die "$file: SHA-256 is $actual, expected $expected"
    done
}

need sha256sum
mkdir -p "$dir"

case $name in
mnist)
    if [[ -n ${PEPITA_FETCH_MIRROR:-} ]]; then
        fetch_idx mnist "${PEPITA_FETCH_MIRROR%/}"
    else
        fetch_idx mnist https://ossci-datasets.s3.amazonaws.com/mnist \
            https://storage.googleapis.com/cvdf-datasets/mnist \
            http://yann.lecun.com/exdb/mnist
    fi
    ;;
fashion-mnist | fashion)
    fetch_idx fashion-mnist "${PEPITA_FETCH_MIRROR:-http://fashion-mnist.s3-website.eu-central-1.amazonaws.com}"
    ;;
cifar10 | cifar-10)
    fetch_cifar https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz \
        c32a1d4ab5d03f1284b67883e8d87530 cifar-10-batches-bin
    verify_cifar10
    ;;
cifar100 | cifar-100)
    # Only the tarball's MD5 is recorded for CIFAR-100 (datasets/README.md).
    fetch_cifar https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz \
        03b5dce01913d631647c71ecec9e9cb8 cifar-100-binary
    ;;
*)
    usage
    ;;
esac
echo "fetch.sh: $name is ready in $dir; train with --data $dir (or PEPITA_DATA=$dir)" >&2
