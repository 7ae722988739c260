package s3

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

func headInput(s *Storage, key string) *awss3.HeadObjectInput {
	return &awss3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + key)}
}

func listUploadsInput(s *Storage) *awss3.ListMultipartUploadsInput {
	return &awss3.ListMultipartUploadsInput{Bucket: aws.String(s.bucket)}
}
