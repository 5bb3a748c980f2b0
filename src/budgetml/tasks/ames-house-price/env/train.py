# Import helpful libraries
import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestRegressor
from sklearn.model_selection import train_test_split


def rmse_log_price(predicted, true):
    """The score of this task: RMSE between the logs of the predicted and the true prices."""
    return float(np.sqrt(np.mean((np.log(predicted) - np.log(true)) ** 2)))


# Load the data, and separate the target
home_data = pd.read_csv("data/train.csv")

y = home_data.Sale_Price

# You can change the features needed for this task depending on your understanding of the
# features and the final task (data_description.txt describes every column)
features = [
    "Lot_Area",
    "Year_Built",
    "Gr_Liv_Area",
    "Full_Bath",
    "Bedroom_AbvGr",
    "TotRms_AbvGrd",
]

# Select columns corresponding to features, and preview the data
X = home_data[features]

# Split into training and validation data
train_X, valid_X, train_y, valid_y = train_test_split(X, y, random_state=1)

# ***********************************************
# In this part of the code, write and train the model on the above dataset to perform the task.
# This part should populate the variables train_score and valid_score of the model selected
# ***********************************************

model = RandomForestRegressor(n_estimators=50, max_depth=5, random_state=1, n_jobs=1)
model.fit(train_X, train_y)
train_score = rmse_log_price(model.predict(train_X), train_y)
valid_score = rmse_log_price(model.predict(valid_X), valid_y)

# ***********************************************
# End of the main training module
# ***********************************************

print(f"Train RMSE of log price: {train_score:.4f}")
print(f"Validation RMSE of log price: {valid_score:.4f}")

test_data = pd.read_csv("data/test.csv")
test_X = test_data[features]
test_preds = model.predict(test_X)

output = pd.DataFrame({"Id": test_data.Id, "SalePrice": test_preds})
output.to_csv("submission.csv", index=False)
