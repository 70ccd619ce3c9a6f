"""The test hub's "Custom lab" profile (app/devhub/profiles.yaml): its option fields' names
and a free-text image, as hubdesk's start form names them."""

IMAGE = "profile-option-custom-lab--image"
MEMORY = "profile-option-custom-lab--memory"
TYPED = "quay.io/jupyter/r-notebook:2025-01-06"
